"""Routes of the shell itself: its stylesheet and script, and the language switch."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get
from litestar.datastructures import Cookie
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect
from litestar.status_codes import HTTP_303_SEE_OTHER

from events_svc.errors import NotFound
from events_svc.web.i18n import LOCALES
from events_svc.web.shell import ASSETS, LANG_COOKIE

_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
#: read once: two small files, served from memory
_FILES = {
    p.name: (p.read_bytes(), _TYPES[p.suffix]) for p in ASSETS.iterdir() if p.suffix in _TYPES
}
LANG_COOKIE_AGE = 365 * 86400


@get(
    "/assets/{name:str}",
    include_in_schema=False,
    summary="The pages' stylesheet and script (no page loads anything from another host)",
)
async def asset(name: FromPath[str]) -> Response[bytes]:
    found = _FILES.get(name)
    if found is None:
        raise NotFound("no such asset")
    body, media_type = found
    # pages link them with ?v=<hash of the assets>: a new release is a new URL
    return Response(
        body,
        media_type=media_type,
        headers={
            "Cache-Control": "public, max-age=31536000, immutable",
            "X-Content-Type-Options": "nosniff",
        },
    )


def safe_next(value: str | None, default: str = "/console") -> str:
    """A path on this site (never another host: `//host` and `/\\host` are refused)."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return default
    if any(c in value for c in "\r\n\\"):
        return default
    return value


@get(
    "/language/{locale:str}",
    include_in_schema=False,
    summary="Switch the pages' language (a cookie) and go back where the reader was",
)
async def switch_language(
    request: Request[Any, Any, Any],
    locale: FromPath[str],
    next_: Annotated[str | None, QueryParameter(name="next", max_length=2000)] = None,
) -> Redirect:
    if locale not in LOCALES:
        raise NotFound("no such language")
    secure = request.app.state.settings.public_base_url.startswith("https://")
    return Redirect(
        safe_next(next_),
        status_code=HTTP_303_SEE_OTHER,
        cookies=[
            Cookie(
                key=LANG_COOKIE,
                value=locale,
                max_age=LANG_COOKIE_AGE,
                path="/",
                httponly=True,
                secure=secure,
                samesite="lax",
            )
        ],
    )
