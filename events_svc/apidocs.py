"""/schema: Swagger UI served from the app's own files (the swagger-ui-bundle-v2 package), so
the API docs work with no internet, under a strict Content-Security-Policy.

Litestar's own Swagger and Scalar pages load their scripts from a CDN and start them with
inline scripts; here the page, its stylesheet, the bundle and a small start-up script all
come from /schema/swagger-ui/, and nothing inline runs.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from litestar import Request
from litestar.openapi.plugins import OpenAPIRenderPlugin
from litestar.types import Message, Scope

ASSETS = "/swagger-ui"  #: under the OpenAPI path (/schema)

#: scripts, styles, images and requests from this host only; nothing inline but the style
#: attributes Swagger UI's React components set
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

_START = """\
// Starts Swagger UI on the page's #swagger-ui element, with the document its data-url names.
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-url"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    validatorUrl: null
  });
});
"""


@functools.cache
def _asset(name: str) -> bytes:
    from swagger_ui_bundle import swagger_ui_path

    return (Path(str(swagger_ui_path)) / name).read_bytes()


class SwaggerPage(OpenAPIRenderPlugin):
    """The docs page itself: links to the files below, no inline script."""

    def __init__(self) -> None:
        super().__init__(path="/", favicon="", style="")

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        base = request.app.openapi_config.path if request.app.openapi_config else "/schema"
        document = self.get_openapi_json_route(request)
        return (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width,initial-scale=1">'
            "<title>events-svc API</title>"
            '<link rel="icon" href="data:,">'
            f'<link rel="stylesheet" href="{base}{ASSETS}/swagger-ui.css"></head>'
            f'<body><div id="swagger-ui" data-url="{document}"></div>'
            f'<script src="{base}{ASSETS}/swagger-ui-bundle.js"></script>'
            f'<script src="{base}{ASSETS}/start.js"></script></body></html>'
        ).encode()


class SwaggerAsset(OpenAPIRenderPlugin):
    """One file the page loads, from the package (or the start-up script above)."""

    def __init__(self, name: str, media_type: str) -> None:
        super().__init__(path=f"{ASSETS}/{name}", media_type=media_type)  # type: ignore[arg-type]
        self.name = name

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return _START.encode() if self.name == "start.js" else _asset(self.name)


def render_plugins() -> list[OpenAPIRenderPlugin]:
    """The page first: Litestar serves the first plugin at /schema itself."""
    return [
        SwaggerPage(),
        SwaggerAsset("swagger-ui.css", "text/css; charset=utf-8"),
        SwaggerAsset("swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
        SwaggerAsset("start.js", "text/javascript; charset=utf-8"),
    ]


def docs_headers(schema_path: str = "/schema") -> Any:
    """A before_send hook: the docs' pages and files get the CSP and are not framed."""
    prefix = schema_path.rstrip("/")

    async def add_headers(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        path = scope.get("path", "")
        if path != prefix and not path.startswith(prefix + "/"):
            return
        headers = list(message.get("headers", []))
        headers += [
            (b"content-security-policy", CSP.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
        ]
        message["headers"] = headers

    return add_headers
