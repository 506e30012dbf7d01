"""HTTP hardening around the whole app, as one ASGI middleware (so streamed exports and
WebSockets pass through untouched):

- request bodies larger than ``max_body`` are refused with 413 before they are read whole
  (by ``Content-Length``, or while a chunked body arrives);
- every response carries ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``
  and ``Referrer-Policy: no-referrer``; API answers also ``Cache-Control: no-store`` (they
  hold plant data and are fetched with credentials); over HTTPS, HSTS.

No cookie is ever read as a credential (the API takes bearer tokens and API keys from
headers only), so a forged cross-site request carries nothing that authenticates it: that
is the CSRF protection, and tests/api/test_hardening.py checks it.
"""

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 8 * 2**20
"""Above any site file or setpoint request; exports stream the other way."""
_COMMON = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]


class Hardening:
    def __init__(self, app: ASGIApp, max_body: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            await _refuse(send, self.max_body)
            return
        started = refused = False
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body and not started:
                    refused = True  # answer now; the app sees the client go away
                    await _refuse(send, self.max_body)
                    return {"type": "http.disconnect"}
            return message

        async def headed_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), *_headers(scope)]
            await send(message)

        await self.app(scope, limited_receive, headed_send)


def _headers(scope: Scope) -> list[tuple[bytes, bytes]]:
    extra = list(_COMMON)
    if str(scope.get("path", "")).startswith("/api/"):
        extra.append((b"cache-control", b"no-store"))
    if scope.get("scheme") == "https":
        extra.append((b"strict-transport-security", b"max-age=31536000"))
    return extra


async def _refuse(send: Send, limit: int) -> None:
    body = json.dumps({"detail": f"request body: at most {limit} bytes"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), *_COMMON],
        }
    )
    await send({"type": "http.response.body", "body": body})
