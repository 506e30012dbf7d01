"""Run-to-failure histories from the virtual factory: the twin as a source of training data.

A machine of the site is simulated alone, from its random initial wear (as a machine of
unknown age would be found) until it fails from wear, once per seed: each life is one
run-to-failure history of that machine type, with the signals its tags carry. Remaining-
useful-life models per equipment type train on such histories when the plant has not yet
recorded enough failures of its own.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from factoryos.model.site import SiteFile
from factoryos.sim.errors import SimConfigError
from factoryos.sim.factory import VirtualFactory

MAX_STEPS = 1_000_000


@dataclass(frozen=True, slots=True)
class Life:
    """One machine from its start to its wear failure: a row per step of the named tags."""

    seed: int
    ts: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]  # steps × tags
    failed: bool  # False: MAX_STEPS ran out before the wear failure


def one_equipment(site: SiteFile, path: str) -> SiteFile:
    """``site`` with ``path`` as its only equipment (its devices and settings kept)."""
    data = site.model_dump()
    name = path.rsplit("/", 1)[-1]
    found = 0
    for area in data["site"]["areas"]:
        for line in area["lines"]:
            for cell in line["cells"]:
                base = f"{data['site']['name']}/{area['name']}/{line['name']}/{cell['name']}"
                keep = [e for e in cell["equipment"] if f"{base}/{e['name']}" == path]
                found += len(keep)
                cell["equipment"] = keep
    if found != 1 or name == "":
        raise SimConfigError(f"no equipment {path!r} in site {site.site.name!r}")
    return SiteFile.model_validate(data)


def run_to_failure(
    site: SiteFile,
    path: str,
    tags: Sequence[str],
    seed: int,
    *,
    step_s: float = 60.0,
    start_ns: int | None = None,
    max_steps: int = MAX_STEPS,
) -> Life:
    """Simulate ``path`` alone until its first wear failure; the values of ``tags`` (names
    of its tags) at every step."""
    alone = one_equipment(site, path)
    factory = (
        VirtualFactory(alone, seed=seed, step_s=step_s)
        if start_ns is None
        else VirtualFactory(alone, seed=seed, step_s=step_s, start_ns=start_ns)
    )
    paths = [f"{path}/{t}" for t in tags]
    ts: list[int] = []
    rows: list[list[float]] = []
    failed = False
    while len(ts) < max_steps and not failed:
        factory.step()
        ts.append(factory.now_ns)
        rows.append([factory.value(p) for p in paths])
        failed = any(f.cause == "wear" for f in factory.truth.failures)
    return Life(seed, np.array(ts, dtype=np.int64), np.array(rows), failed)
