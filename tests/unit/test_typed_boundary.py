"""Services hand controllers and pages typed records, never `dict[str, Any]`: mypy checks the
most used boundary of the service. This reads every HTTP module (the domains' `controllers` and
`page` modules and everything in `events_svc/web/`), finds each function it calls in a module
below it, and fails on a return annotation that names `dict`, `Mapping` or `Any`."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from pathlib import Path

import events_svc

ROOT = Path(events_svc.__file__).parent

#: functions allowed to return a dict or Any to a controller, each with its reason
ALLOWED = {
    # outbox rows (notifications, webhook deliveries, console mail) handed to the controller only
    # to be enqueued after commit (`jobs.enqueue_*` reads `id`, `key`, `attempts`); their content
    # never reaches a response. The record of what was changed is typed (first element).
    "events_svc.invitations.agenda.set_agenda": "outbox rows to enqueue",
    "events_svc.delegations.service.put": "outbox rows to enqueue",
    "events_svc.invitations.resend.resend": "outbox rows to enqueue",
    "events_svc.organizers.signin.request_links": "console mail rows to enqueue",
    # not a service: the HTTP layer's own helper building OpenAPI response specs
    "events_svc.openapi.problems": "status -> OpenAPI response spec",
}

_UNTYPED = re.compile(r"\b(dict|Dict|Mapping|MutableMapping|Any)\b")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in ROOT.rglob("*.py")}


def _is_http(module: str) -> bool:
    last = module.rsplit(".", 1)[-1]
    return (
        last in ("controllers", "page")
        or last.endswith("_pages")
        or module.startswith("events_svc.web.")
    )


def _called_from_http() -> set[tuple[str, str]]:
    """(module, name) of every name an HTTP module imports from, or reads off, a module of
    events_svc that is not itself HTTP."""
    used: set[tuple[str, str]] = set()
    for module, path in MODULES.items():
        if not _is_http(module):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        aliases: dict[str, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("events_svc"):
                assert node.module is not None
                for alias in node.names:
                    submodule = f"{node.module}.{alias.name}"
                    if submodule in MODULES:
                        aliases[alias.asname or alias.name] = submodule
                    else:
                        used.add((node.module, alias.name))
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name in MODULES:
                        aliases[alias.asname or alias.name] = alias.name
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
            ):
                used.add((aliases[node.value.id], node.attr))
    return {(m, n) for m, n in used if not _is_http(m)}


def _untyped_returns() -> dict[str, str]:
    found: dict[str, str] = {}
    for module, name in sorted(_called_from_http()):
        obj = getattr(importlib.import_module(module), name, None)
        if not inspect.isfunction(obj):
            continue
        fn = inspect.unwrap(obj)
        returns = fn.__annotations__.get("return")
        if returns is None:
            continue
        text = returns if isinstance(returns, str) else repr(returns)
        if _UNTYPED.search(text):
            found[f"{fn.__module__}.{fn.__qualname__}"] = text
    return found


def test_the_scan_sees_the_services() -> None:
    """The walk finds the calls it is meant to check (a broken walk would pass vacuously)."""
    used = _called_from_http()
    assert ("events_svc.rsvp.service", "attendance") in used
    assert ("events_svc.training.service", "certificate") in used
    assert len(used) > 100


def test_services_return_typed_records_to_controllers() -> None:
    untyped = {k: v for k, v in _untyped_returns().items() if k not in ALLOWED}
    assert not untyped, "return a record (frozen dataclass) instead:\n" + "\n".join(
        f"  {k} -> {v}" for k, v in sorted(untyped.items())
    )


def test_the_allow_list_has_no_stale_entries() -> None:
    assert set(ALLOWED) <= set(_untyped_returns())
