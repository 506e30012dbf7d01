"""The NATS JetStream uplink: one outbox record → one stream message, acked by the server.

Each message goes to ``factoryos.ingest.<site>`` with the header ``Nats-Msg-Id:
<gateway>-<seq>-<digest>``, so a record re-sent after a lost PubAck (outage, gateway restart) is
dropped by JetStream's de-duplication window; beyond the window the platform's idempotent
write on (tag, ts) still stores it once. The digest (of the message's bytes) keeps a record
that merely has the same seq, from a new outbox file of a gateway of the same name (state
wiped, container without a volume, outbox replaced), from being dropped as a duplicate of
an old one. The stream is created when missing.
"""

import hashlib
import logging
from collections.abc import Mapping

import nats.errors
from nats.aio.client import Client
from nats.js.api import DiscardPolicy, StorageType, StreamConfig

from factoryos.bus.codec import BatchEncodeError, encode_batch, index_paths
from factoryos.bus.nats import NatsError, connect_nats, ingest_subject
from factoryos.edge.config import NatsUplinkConfig
from factoryos.edge.errors import UplinkError
from factoryos.model.samples import SampleBatch

log = logging.getLogger(__name__)


class NatsUplink:
    """Implements the gateway's ``Uplink`` protocol over JetStream.

    ``path_of`` maps the gateway's tag ids to UNS paths; every message carries a path table
    of the tags in it. Connects on the first send; after that nats-py reconnects by itself.
    """

    def __init__(
        self, config: NatsUplinkConfig, *, gateway: str, site: str, path_of: Mapping[int, str]
    ) -> None:
        self.config = config
        self.gateway = gateway
        self.subject = ingest_subject(site)
        self._path_of = path_of
        self._nc: Client | None = None

    async def send(self, seqs: range, batch: SampleBatch) -> None:
        """Publish the record ``seqs`` (one outbox seq) and wait for JetStream's PubAck.

        Raises :class:`UplinkError` when it was not acknowledged; the caller retries.
        """
        if len(seqs) != 1:
            raise UplinkError(f"nats uplink sends one record per message, got seqs {seqs}")
        seq = seqs.start
        try:
            index, paths = index_paths(batch.tag_ids, self._path_of)
            payload = encode_batch(
                SampleBatch(index, batch.ts, batch.values, batch.quality),
                source=self.gateway,
                first_seq=seq,
                paths=paths,
            )
        except BatchEncodeError as exc:
            raise UplinkError(f"record {seq}: cannot encode: {exc}") from exc
        js = (await self._connected()).jetstream()
        try:
            ack = await js.publish(
                self.subject,
                payload,
                timeout=self.config.timeout_s,
                stream=self.config.stream,
                headers={"Nats-Msg-Id": msg_id(self.gateway, seq, payload)},
            )
        except (nats.errors.Error, TimeoutError) as exc:
            raise UplinkError(f"record {seq} to {self.subject}: no PubAck: {exc!r}") from exc
        if ack.duplicate:
            log.debug("record %d was already in stream %s", seq, self.config.stream)

    async def close(self) -> None:
        if self._nc is not None:
            await self._nc.close()
            self._nc = None

    async def _connected(self) -> Client:
        if self._nc is not None:
            return self._nc
        try:
            nc = await connect_nats(
                self.config.url, name=self.gateway, timeout_s=self.config.timeout_s
            )
        except NatsError as exc:
            raise UplinkError(str(exc)) from exc
        try:
            await self._ensure_stream(nc)
        except BaseException:
            await nc.close()
            raise
        self._nc = nc
        return nc

    async def _ensure_stream(self, nc: Client) -> None:
        c = self.config
        jsm = nc.jetstream()
        try:
            info = await jsm.stream_info(c.stream)
        except nats.js.errors.NotFoundError:
            info = None
        except (nats.errors.Error, TimeoutError) as exc:
            raise UplinkError(f"stream {c.stream}: cannot look it up: {exc!r}") from exc
        if info is not None:
            subjects = info.config.subjects or []
            if not any(_matches(s, self.subject) for s in subjects):
                raise UplinkError(
                    f"stream {c.stream} exists but does not capture {self.subject} "
                    f"(its subjects: {', '.join(subjects)})"
                )
            return
        config = StreamConfig(
            name=c.stream,
            subjects=[ingest_subject("*")],
            storage=StorageType.FILE,
            discard=DiscardPolicy.OLD,
            max_age=c.stream_max_age_s,
            duplicate_window=c.duplicate_window_s,
        )
        try:
            await jsm.add_stream(config)
        except (nats.errors.Error, TimeoutError) as exc:
            raise UplinkError(f"stream {c.stream}: cannot create it: {exc!r}") from exc
        log.info("created stream %s for %s", c.stream, config.subjects)


def msg_id(gateway: str, seq: int, payload: bytes) -> str:
    """The de-duplication id of one outbox record's message: the same for a re-send of the
    record (its bytes are the same), different for another record with the same seq."""
    return f"{gateway}-{seq}-{hashlib.blake2b(payload, digest_size=8).hexdigest()}"


def _matches(pattern: str, subject: str) -> bool:
    """NATS subject matching: ``*`` is one token, a final ``>`` one or more."""
    p, s = pattern.split("."), subject.split(".")
    for i, token in enumerate(p):
        if token == ">":
            return len(s) > i
        if i >= len(s) or (token != "*" and token != s[i]):
            return False
    return len(p) == len(s)
