"""Retention per tag class, backend-neutral: which rows a run deletes, and which samples
later writes must refuse.

A run cuts each class's tags at its own cutoffs and every other tag at the default's. Raw
samples a run deleted may not be stored again (their rollups still count them), so the
store remembers a *floor* per tag: the raw cutoff that applied to it, never lowered; tags
no run has seen under a class follow the default floor.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from factoryos.model.site import SiteFile
from factoryos.store.errors import StoreError
from factoryos.store.rollups import LEVELS, Cutoffs, Retention, cutoffs

NEVER = np.iinfo(np.int64).min


@dataclass(frozen=True, slots=True)
class RetentionClass:
    """A class of tags and how long they keep their data."""

    name: str
    keep: Retention
    tag_ids: npt.NDArray[np.int32]


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """The default keep and the classes; a tag belongs to at most one class."""

    default: Retention = field(default_factory=Retention)
    classes: tuple[RetentionClass, ...] = ()


@dataclass(frozen=True, slots=True)
class RunCuts:
    """The cutoffs of one run: the default's, and per tag of a class its class's."""

    default: Cutoffs
    tag_ids: npt.NDArray[np.int32]
    """Sorted, unique."""
    raw_ns: npt.NDArray[np.int64]
    bucket_ns: dict[str, npt.NDArray[np.int64]]
    """Per rollup table, aligned with tag_ids."""

    def widest(self) -> Cutoffs:
        """The latest cutoff of each table over all tags: what the rollups must hold
        before the run deletes."""
        return Cutoffs(
            raw_ns=max(self.default.raw_ns, int(self.raw_ns.max(initial=NEVER))),
            bucket_ns={
                table: max(ns, int(self.bucket_ns[table].max(initial=NEVER)))
                for table, ns in self.default.bucket_ns.items()
            },
        )

    def earliest_raw_ns(self) -> int:
        """The raw cutoff every tag has passed (whole partitions before it can go)."""
        return min(self.default.raw_ns, int(self.raw_ns.min(initial=self.default.raw_ns)))


def policy_of_site(site: SiteFile, tag_ids: Mapping[str, int]) -> RetentionPolicy:
    """The site file's retention section with its classes' tags as store ids."""
    config = site.retention
    members: dict[str, list[int]] = {name: [] for name in config.classes}
    for ref in site.tags():
        if ref.tag.retention is not None:
            members[ref.tag.retention].append(tag_ids[ref.path])
    return RetentionPolicy(
        default=Retention(*config.keep_ns(None)),
        classes=tuple(
            RetentionClass(name, Retention(*config.keep_ns(name)), np.array(ids, dtype=np.int32))
            for name, ids in members.items()
        ),
    )


def run_cuts(policy: RetentionPolicy, now_ns: int) -> RunCuts:
    """The cutoffs of a run at ``now_ns``; a tag in two classes or a negative keep is
    refused (StoreError naming it)."""
    default = _cut(policy.default, now_ns, "default")
    ids, raw, buckets = [], [], {level.table: [] for level in LEVELS}  # type: ignore[var-annotated]
    for cls in policy.classes:
        cut = _cut(cls.keep, now_ns, cls.name)
        n = len(cls.tag_ids)
        ids.append(cls.tag_ids.astype(np.int32))
        raw.append(np.full(n, cut.raw_ns, dtype=np.int64))
        for table, ns in cut.bucket_ns.items():
            buckets[table].append(np.full(n, ns, dtype=np.int64))
    all_ids = np.concatenate(ids) if ids else np.empty(0, dtype=np.int32)
    order = np.argsort(all_ids, kind="stable")
    sorted_ids = all_ids[order]
    twice = sorted_ids[1:][sorted_ids[1:] == sorted_ids[:-1]]
    if len(twice):
        raise StoreError(f"retention: tag id {int(twice[0])} is in more than one class")
    return RunCuts(
        default=default,
        tag_ids=sorted_ids,
        raw_ns=_ordered(raw, order),
        bucket_ns={table: _ordered(parts, order) for table, parts in buckets.items()},
    )


def _cut(keep: Retention, now_ns: int, name: str) -> Cutoffs:
    try:
        return cutoffs(keep.raw_keep_ns, keep.rollup_1m_keep_ns, keep.rollup_1h_keep_ns, now_ns)
    except StoreError as e:
        raise StoreError(f"{e} (class {name})") from e


def _ordered(
    parts: list[npt.NDArray[np.int64]], order: npt.NDArray[np.intp]
) -> npt.NDArray[np.int64]:
    return (np.concatenate(parts) if parts else np.empty(0, dtype=np.int64))[order]


@dataclass(frozen=True, slots=True)
class Floors:
    """The raw cutoff each tag has been cut at: samples below it are refused."""

    default_ns: int = NEVER
    tag_ids: npt.NDArray[np.int32] = field(default_factory=lambda: np.empty(0, dtype=np.int32))
    """Sorted, unique: the tags with a floor of their own."""
    ns: npt.NDArray[np.int64] = field(default_factory=lambda: np.empty(0, dtype=np.int64))

    def of(self, tag_ids: npt.NDArray[np.int32]) -> npt.NDArray[np.int64]:
        """The floor of each of ``tag_ids``."""
        result = np.full(len(tag_ids), self.default_ns, dtype=np.int64)
        if len(self.tag_ids):
            at = np.minimum(np.searchsorted(self.tag_ids, tag_ids), len(self.tag_ids) - 1)
            own = self.tag_ids[at] == tag_ids
            result[own] = self.ns[at[own]]
        return result

    def after(self, run: RunCuts) -> "Floors":
        """The floors once ``run`` has deleted: a class tag's floor rises to its class's
        cutoff, every other tag's (own or default) to the default's; none is lowered."""
        ids = np.union1d(self.tag_ids, run.tag_ids).astype(np.int32)
        floor = self.of(ids)
        cut = np.full(len(ids), run.default.raw_ns, dtype=np.int64)
        in_class = np.isin(ids, run.tag_ids)
        cut[in_class] = run.raw_ns[np.searchsorted(run.tag_ids, ids[in_class])]
        return Floors(max(self.default_ns, run.default.raw_ns), ids, np.maximum(floor, cut))

    @property
    def empty(self) -> bool:
        return self.default_ns == NEVER and len(self.tag_ids) == 0


CUT_COLUMNS = (("samples", "ts"), ("rollup_1m", "bucket_ns"), ("rollup_1h", "bucket_ns"))
"""The tables a run deletes from and their time column."""


def cut_rows(run: RunCuts) -> dict[str, npt.NDArray[np.generic]]:
    """The per-tag cutoffs of a run as columns (tag_id, then one per table), for the
    ``{cuts}`` table the delete statements join."""
    return {"tag_id": run.tag_ids, "samples": run.raw_ns, **run.bucket_ns}


def delete_statements(run: RunCuts) -> list[tuple[str, str]]:
    """(table, SQL) of the deletes of a run, DuckDB and PostgreSQL alike, with ``{table}``
    and ``{cuts}`` (the table of `cut_rows`) left to fill: the default's tags, then the
    classes' (only below the widest cutoff, so time partitions and zone maps prune)."""
    widest = run.widest()
    statements = []
    for table, column in CUT_COLUMNS:
        default = run.default.raw_ns if table == "samples" else run.default.bucket_ns[table]
        top = widest.raw_ns if table == "samples" else widest.bucket_ns[table]
        statements.append((
            table,
            f"DELETE FROM {{table}} AS t WHERE t.{column} < {int(default)} AND NOT EXISTS"
            " (SELECT 1 FROM {cuts} AS c WHERE c.tag_id = t.tag_id)",
        ))  # fmt: skip
        if len(run.tag_ids):
            statements.append((
                table,
                "DELETE FROM {table} AS t USING {cuts} AS c WHERE c.tag_id = t.tag_id"
                f" AND t.{column} < c.{table} AND t.{column} < {int(top)}",
            ))  # fmt: skip
    return statements
