"""The page shell: one Jinja environment, one stylesheet and one script served by the app,
the strict CSP every page carries, and the reader's language."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar import Request
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig

from events_svc.web.i18n import LOCALES, Locale, translate

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
ASSETS = HERE / "assets"

#: nothing from another host, no inline script or style, no framing, no <base>, forms post
#: here only; `connect-src 'self'` lets the page's own script poll its progress route
CSP = (
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": CSP,
}
LANG_COOKIE = "lang"

ENV = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,
)


def _asset_version() -> str:
    """Changes whenever an asset does, so browsers may cache them for long."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(ASSETS.iterdir()):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


ASSET_VERSION = _asset_version()
ENV.globals["asset_version"] = ASSET_VERSION


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    """Litestar's Jinja integration, on the shared environment."""
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(ENV))


def reader_locale(request: Request[Any, Any, Any] | None, default: str | None) -> Locale:
    """The language switch's cookie when set, else the reader's own (organizer, invitee)."""
    chosen = request.cookies.get(LANG_COOKIE) if request is not None else None
    if chosen in LOCALES:
        return chosen
    return "en" if default == "en" else "zh-CN"


def base_context(request: Request[Any, Any, Any] | None, locale: Locale) -> dict[str, Any]:
    """What the shell itself needs: the language, its switch, and `t` to translate."""
    here = "/"
    if request is not None:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return {
        "lang": locale,
        "t": lambda key, **values: translate(key, locale, **values),
        "switch_to": "en" if locale == "zh-CN" else "zh-CN",
        "switch_href": "/language/{}?next={}".format(
            "en" if locale == "zh-CN" else "zh-CN", quote(here, safe="")
        ),
    }


def render(
    template: str, *, request: Request[Any, Any, Any] | None, locale: Locale, **context: Any
) -> str:
    """A page as text (for handlers that answer a plain Response)."""
    return ENV.get_template(template).render(**base_context(request, locale), **context)
