"""JSON answers of the busiest routes with less of Litestar's machinery: the same bytes and
headers, without the steps that cost more CPU than encoding the body itself.

Litestar's `Response` merges header and encoder dicts, looks its serializer up, and builds
its headers through `MutableScopeHeaders` (a search per header) on every answer. A route
whose answer is a msgspec Struct with no extra headers or cookies needs none of it:
`JSONResponse` encodes the Struct with msgspec (as Litestar's default serializer does for the
types a Struct holds) and sends Content-Type and Content-Length as they are.

Use it as a route's `response_class` (the handler returns its Struct) or return it from a
handler annotated with `Response[...]`. Headers or cookies given to it by a route fall back
to Litestar's own path.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response
from litestar.response.base import ASGIResponse

_JSON = (b"content-type", b"application/json")


class _Encoded(ASGIResponse):
    """An ASGIResponse of an encoded JSON body and its two headers."""

    __slots__ = ()

    def __init__(self, body: bytes, status_code: int) -> None:
        # not ASGIResponse.__init__: the attributes its __call__ reads, set outright
        self.body = body
        self.status_code = status_code
        self.content_length = len(body)
        self.background = None
        self.encoding = "utf-8"
        self.is_head_response = False
        self._encoded_cookies = ()

    def encode_headers(self) -> list[tuple[bytes, bytes]]:
        return [_JSON, (b"content-length", str(self.content_length).encode())]


class JSONResponse(Response[Any]):
    """A msgspec Struct (or anything msgspec encodes natively) as `application/json`."""

    __slots__ = ("_given",)

    def __init__(self, content: Any, *, status_code: int | None = None, **given: Any) -> None:
        # Litestar's data handler passes background, media_type and type_encoders too: kept,
        # to hand them to Litestar's own path when they ask for more than JSON
        self.content = content
        self.status_code = status_code
        self._given = given

    def to_asgi_response(
        self,
        app: Any,
        request: Request[Any, Any, Any],
        *,
        status_code: int | None = None,
        headers: dict[str, str] | None = None,
        cookies: Any = None,
        **options: Any,
    ) -> ASGIResponse:
        given = self._given
        if (
            headers
            or cookies
            or options.get("is_head_response")
            or options.get("encoded_headers")
            or given.get("background") is not None
            or given.get("media_type") not in (None, "application/json")
        ):
            # something beyond a plain JSON answer: Litestar's path, as a plain Response
            Response.__init__(self, self.content, status_code=self.status_code, **given)
            return super().to_asgi_response(
                app,
                request,
                status_code=status_code,
                headers=headers,
                cookies=cookies,
                **options,
            )
        return _Encoded(msgspec.json.encode(self.content), self.status_code or status_code or 200)
