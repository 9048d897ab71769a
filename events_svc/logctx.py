"""Structured logs: JSON lines (LOG_FORMAT=json, the default of `serve` and `worker`) or plain
text (LOG_FORMAT=text, `events-svc dev`), with what is known about the work at hand — request
id, organization, event, notification, arq job — carried in context variables, so every line a
request or a job writes names them without each call passing them on.

The standard library's logging with a formatter of our own: no second logging system, and the
redaction filter (`logredact`) keeps working on every record before it is formatted.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import re
import sys
import time
from typing import Any

from events_svc import logredact

#: the fields of the work at hand (request_id, org, event_id, notification_id, job_id): one
#: dict per request or job, which `bind` fills in as they become known. A dict, not a variable
#: per field: a dependency resolved in a task of its own (Litestar may do that) still adds to
#: the request's dict, so the request's access line names the organization too.
_fields: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "log_fields", default=None
)


def begin(**fields: Any) -> contextvars.Token[dict[str, Any] | None]:
    """A new set of fields for a request or a job (undo with `end`)."""
    return _fields.set({k: v for k, v in fields.items() if v is not None})


def begin_fields(fields: dict[str, Any]) -> contextvars.Token[dict[str, Any] | None]:
    """As `begin`, with the dict itself (no None values in it); `bind` adds to it."""
    return _fields.set(fields)


def end(token: contextvars.Token[dict[str, Any] | None]) -> None:
    _fields.reset(token)


def bind(**fields: Any) -> None:
    """Add fields to the current request's or job's (or start a set when there is none)."""
    current = _fields.get()
    values = {k: v for k, v in fields.items() if v is not None}
    if current is None:
        _fields.set(values)
    else:
        current.update(values)


def bind_one(name: str, value: Any) -> None:
    """`bind` of one field (not None), for the per-request paths."""
    current = _fields.get()
    if current is None:
        _fields.set({name: value})
    else:
        current[name] = value


def current() -> dict[str, Any]:
    return dict(_fields.get() or {})


_CONTEXT = ("request_id", "org", "event_id", "notification_id", "job_id")

#: attributes every LogRecord has: anything else on a record came from `extra=` and is written
_STANDARD = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()
    | {"message", "asctime", "taskName", "color_message"}
)

#: an X-Request-ID we take as it is: short, printable, no spaces or quotes
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")


def request_id_from(header: str | None) -> str:
    """The caller's X-Request-ID when it is a sane one, else a new random id."""
    if header and _REQUEST_ID.fullmatch(header):
        return header
    return os.urandom(8).hex()  # secrets.token_hex(8), without its two calls on the way


_make_record = logging.getLogRecordFactory()


def _record_with_context(*args: Any, **kwargs: Any) -> logging.LogRecord:
    """Records take the context fields when they are made (a handler may format them later,
    elsewhere); a field given with `extra=` is set after this and wins."""
    record = _make_record(*args, **kwargs)
    fields = _fields.get()
    if fields:
        record.__dict__.update(fields)
    return record


if getattr(_make_record, "__name__", "") != _record_with_context.__name__:
    logging.setLogRecordFactory(_record_with_context)


#: fields that this code fills with values that are never keys (ids it made, templates, verbs)
_SAFE_FIELDS = frozenset(
    {
        "method",
        "route",
        "org",
        "event_id",
        "notification_id",
        "job_id",
        "kind",
        "outcome",
        "message_id",
    }
)


def _plain(key: str, value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    text = value if isinstance(value, str) else str(value)
    return text if key in _SAFE_FIELDS else logredact.redact(text)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ms), level, logger, message, the context fields
    that are set, the record's `extra` fields, and the traceback when there is one."""

    _second = -1
    _stamp = ""

    def format(self, record: logging.LogRecord) -> str:
        second = int(record.created)
        if second != self._second:  # formatted once a second, not once a line
            self._second = second
            self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        out: dict[str, Any] = {
            "ts": f"{self._stamp}.{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = record.__dict__
        for key in sorted(fields.keys() - _STANDARD):
            if not key.startswith("_"):
                out[key] = _plain(key, fields[key])
        if record.exc_info and not record.exc_text:
            record.exc_text = logredact.redact(self.formatException(record.exc_info))
        if record.exc_text:
            out["exc"] = record.exc_text
        return json.dumps(out, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The plain format, with the context fields that are set appended as key=value."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = [f"{n}={getattr(record, n)}" for n in _CONTEXT if hasattr(record, n)]
        return f"{line} [{' '.join(extra)}]" if extra else line


def formatter(log_format: str) -> logging.Formatter:
    # Neither format prints where a line was logged: spare every record the walk up the stack
    # that finds it (logging's documented switch), and the thread and process look-ups.
    setattr(logging, "_srcfile", None)  # noqa: B010
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    return JsonFormatter() if log_format == "json" else TextFormatter()


def configure(log_format: str, *, level: int = logging.INFO) -> None:
    """Root logging to stderr in `log_format` (json or text); uvicorn's and arq's loggers
    propagate to it. Then the redaction filter goes on every handler (`logredact.install`)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(log_format))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logredact.install()


def uvicorn_log_config(log_format: str) -> dict[str, Any]:
    """uvicorn's logging config with our formatter; its access log is off in JSON mode (the
    request middleware writes one line per request, with the route, status, duration and
    request id)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": {"()": f"{__name__}.formatter", "log_format": log_format}},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["default"], "level": "INFO"},
        "loggers": {
            "uvicorn": {"level": "INFO"},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {"level": "INFO" if log_format == "text" else "WARNING"},
        },
    }


def litestar_logging_config(log_format: str) -> Any:
    """Litestar's logging config that leaves the root logger as `serve` (uvicorn) configured
    it, and formats Litestar's own lines like ours (its default would put a plain-text handler
    on the root logger, under every JSON line)."""
    from litestar.logging.config import LoggingConfig

    return LoggingConfig(
        configure_root_logger=False,
        formatters={"standard": {"()": f"{__name__}.formatter", "log_format": log_format}},
    )
