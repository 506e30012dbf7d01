"""Forwarding to the parent node: one HTTP GET of its ``/api/resolve/{handle}``.

Each forward has a timeout per try and a bounded number of tries (only failures to connect
are tried again: a parent that is slow to answer is not asked twice as hard); the answer is
read up to a size limit and validated before anything of it is used. Every failure becomes
a :class:`~factoryos.twin.errors.ParentError` naming the parent, never an httpx error. The
node forwards with its own key for the parent (``FACTORYOS_RESOLVER_PARENT_KEY``), never with
its caller's credential, which is this node's and means nothing (or too much) elsewhere.

A client is opened per forward: forwards happen on cache misses for remote prefixes only,
and a per-call client needs no lifecycle hooks in whatever event loop serves the API.
"""

import logging
from typing import Protocol
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from factoryos.twin.answers import Missing, Outcome, Resolution, forwarded
from factoryos.twin.config import ENV
from factoryos.twin.errors import ParentError, ParentTimeoutError, ResolutionLoopError

log = logging.getLogger(__name__)

HOPS_HEADER = "X-FactoryOS-Resolve-Hops"
"""How many nodes forwarded the request so far; the loop guard."""
MAX_HOPS = 8  # far deeper than any real hierarchy (national → industry → enterprise)
MAX_ANSWER_BYTES = 64 * 1024  # a record is at most 16 KiB of JSON; the rest is small
_PATH_SAFE = "/-._~!$&'()*+,;=:@"  # a handle's characters are URL path characters already
_RETRIED = (httpx.ConnectError, httpx.RemoteProtocolError)


class MissingOut(BaseModel):
    """The body of a resolver's 404: not found is an answer, with who gave it."""

    detail: str
    node: str
    reason: str


class Parent(Protocol):
    """Where handles this node does not serve go (an HTTP parent, or a test's fake)."""

    url: str

    async def resolve(self, handle: str, hops: int) -> Outcome: ...


class HttpParent:
    """The parent node at ``url``, asked with ``key``."""

    def __init__(
        self,
        url: str,
        key: str | None,
        timeout_s: float,
        attempts: int,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self._key = key
        self._timeout = httpx.Timeout(timeout_s)
        self._attempts = attempts
        self._transport = transport  # tests: httpx.MockTransport
        self._healthy = True

    async def resolve(self, handle: str, hops: int) -> Outcome:
        """The parent's answer for ``handle``; ``hops`` forwards happened before this one."""
        if hops + 1 > MAX_HOPS:
            raise ResolutionLoopError(
                f"handle: {handle!r}: forwarded {hops} times already; do the nodes' "
                f"{ENV}PARENT_URL settings point at each other?"
            )
        headers = {HOPS_HEADER: str(hops + 1), "Accept": "application/json"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        target = f"{self.url}/api/resolve/{quote(handle, safe=_PATH_SAFE)}"
        try:
            status, body = await self._fetch(target, headers)
            outcome = self._outcome(handle, status, body)
        except ParentError as exc:
            if self._healthy:  # log the edge, not every failed forward while it lasts
                log.warning("%s", exc)
                self._healthy = False
            raise
        if not self._healthy:
            log.info("parent node %s answers again", self.url)
            self._healthy = True
        return outcome

    async def _fetch(self, target: str, headers: dict[str, str]) -> tuple[int, bytes]:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._attempts),
            wait=wait_exponential(multiplier=0.05, max=0.5),
            retry=retry_if_exception_type(_RETRIED),
            reraise=True,
        )
        try:
            async with httpx.AsyncClient(
                timeout=self._timeout, follow_redirects=False, transport=self._transport
            ) as client:
                async for attempt in retrying:
                    with attempt:
                        return await self._once(client, target, headers)
        except httpx.TimeoutException as exc:
            raise ParentTimeoutError(
                f"parent node {self.url}: no answer within {self._timeout.read} s"
            ) from exc
        except httpx.HTTPError as exc:
            raise ParentError(
                f"parent node {self.url} is unreachable: {type(exc).__name__}: {exc}"
            ) from exc
        raise AssertionError("unreachable: tenacity returns or raises")

    async def _once(
        self, client: httpx.AsyncClient, target: str, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        async with client.stream("GET", target, headers=headers) as response:
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_ANSWER_BYTES:
                    raise ParentError(
                        f"parent node {self.url}: answer larger than {MAX_ANSWER_BYTES} bytes"
                    )
            return response.status_code, bytes(body)

    def _outcome(self, handle: str, status: int, body: bytes) -> Outcome:
        if status == 200:
            try:
                return forwarded(Resolution.model_validate_json(body), self.url)
            except ValidationError as exc:
                raise ParentError(f"parent node {self.url}: not a resolution: {exc}") from exc
        if status == 404:
            try:
                missing = MissingOut.model_validate_json(body)
            except ValidationError as exc:  # a 404 of the route itself: a wrong URL
                raise ParentError(
                    f"parent node {self.url}: no resolver there (404 {_text(body)}); "
                    f"check {ENV}PARENT_URL"
                ) from exc
            return Missing(handle, missing.node, missing.reason)
        if status in (401, 403):
            raise ParentError(
                f"parent node {self.url} refused this node's credential ({status} "
                f"{_text(body)}); check {ENV}PARENT_KEY"
            )
        if status == 508:  # said once, not once per node of the loop
            raise ResolutionLoopError(
                f"handle: {handle!r}: forwarding went round a loop (reported by parent node "
                f"{self.url}); do the nodes' {ENV}PARENT_URL settings point at each other?"
            )
        raise ParentError(f"parent node {self.url} answered {status}: {_text(body)}")


def _text(body: bytes) -> str:
    """The start of an answer's body, for an error message."""
    return body[:200].decode("utf-8", "replace").strip()


__all__ = ["HOPS_HEADER", "MAX_HOPS", "HttpParent", "MissingOut", "Parent"]
