"""The ``maintenance:`` section of the apps file: which equipment is watched, and how.

.. code-block:: yaml

    maintenance:
      anomaly:
        demo/machining/line1/cell1/cnc-01:
          signals: [power_kw, spindle_speed_rpm, vibration_mm_s, spindle_temp_c]
          gate: {tag: state, values: [6]}     # score while executing only
          score_tag: anomaly_score            # a tag of the equipment without an address
          family: auto                        # or pca, gmm, autoencoder
          persistence: 5                      # scores above 1 in a row before it is an anomaly
          training_hours: 24                  # default training window: the last 24 h
      work_orders:                            # docs/maintenance.md, "Work orders"
        anomaly_due_h: 48

Tag names are relative to their equipment or full paths. Everything is checked against the
site when the platform starts; a problem names the apps file's line.
"""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from factoryos.apps.maintenance.orders import OrdersConfig
from factoryos.model.appsfile import AppsFile
from factoryos.model.site import SiteFile
from factoryos.model.uns import SEGMENT_RULE, is_segment, tag_path
from factoryos.model.yamlfile import Path_

SECTION = "maintenance"
MAX_WATCHED = 10_000
MAX_SIGNALS = 64

TagName = Annotated[str, Field(min_length=1, max_length=400)]
Family = Literal["auto", "pca", "gmm", "autoencoder"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GateSpec(_Section):
    """Score only while ``tag`` holds one of ``values`` (e.g. PackML 6, execute)."""

    tag: TagName
    values: list[float] = Field(min_length=1, max_length=100)


class AnomalySpec(_Section):
    signals: list[TagName] = Field(min_length=2, max_length=MAX_SIGNALS)
    gate: GateSpec | None = None
    score_tag: TagName | None = None
    family: Family = "auto"
    persistence: int = Field(default=5, ge=1, le=10_000)
    training_hours: float = Field(default=24.0, gt=0, le=24 * 93, allow_inf_nan=False)


class RulSpec(_Section):
    """Remaining useful life of one equipment type (docs/maintenance.md)."""

    equipment: list[str] = Field(min_length=1, max_length=MAX_WATCHED)
    sensors: list[TagName] = Field(min_length=1, max_length=MAX_SIGNALS)
    gate: GateSpec | None = None
    #: One cycle (a row of the model) is this much running time, each signal's mean over it.
    cycle_s: float = Field(default=1800.0, ge=60, le=7 * 86_400, allow_inf_nan=False)
    #: Train on this many run-to-failure lives simulated by the virtual factory (demo, or a
    #: new plant without recorded failures); 0: train on the plant's own histories.
    simulated_lives: int = Field(default=0, ge=0, le=1000)
    every_s: float = Field(default=300.0, ge=10, le=86_400, allow_inf_nan=False)
    """How often each equipment's RUL is estimated again."""


class MaintenanceSection(_Section):
    anomaly: dict[str, AnomalySpec] = Field(default_factory=dict, max_length=MAX_WATCHED)
    rul: dict[str, RulSpec] = Field(default_factory=dict, max_length=1000)
    work_orders: OrdersConfig = OrdersConfig()


def model_name(equipment: str) -> str:
    """The registry name of an equipment's anomaly model."""
    return f"anomaly/{equipment}"


def signal_paths(equipment: str, spec: AnomalySpec) -> list[str]:
    return [tag_path(equipment, name) for name in spec.signals]


def _problems(section: MaintenanceSection, site: SiteFile) -> list[tuple[Path_, str]]:
    equipment = {ref.path for ref in site.equipment()}
    tags = {ref.path for ref in site.tags()}
    found: list[tuple[Path_, str]] = []
    for path, spec in section.anomaly.items():
        base: Path_ = ("anomaly", path)
        if path not in equipment:
            found.append((base, f"no equipment {path!r} in the site"))
            continue
        named: list[tuple[Path_, str]] = [
            ((*base, "signals", i), name) for i, name in enumerate(spec.signals)
        ]
        if spec.gate is not None:
            named.append(((*base, "gate", "tag"), spec.gate.tag))
        if spec.score_tag is not None:
            named.append(((*base, "score_tag"), spec.score_tag))
        for loc, name in named:
            if tag_path(path, name) not in tags:
                found.append((loc, f"no tag {tag_path(path, name)!r} in the site"))
        paths = signal_paths(path, spec)
        if len(set(paths)) != len(paths):
            found.append(((*base, "signals"), "a signal is named twice"))
        if spec.score_tag is not None and tag_path(path, spec.score_tag) in paths:
            found.append(((*base, "score_tag"), "the score tag is also an input signal"))
    for kind, rul in section.rul.items():
        base = ("rul", kind)
        if not is_segment(kind):
            found.append((base, f"an equipment type is a name ({SEGMENT_RULE})"))
        for i, path in enumerate(rul.equipment):
            if path not in equipment:
                found.append(((*base, "equipment", i), f"no equipment {path!r} in the site"))
                continue
            names = [*rul.sensors, *([rul.gate.tag] if rul.gate else [])]
            found += [
                ((*base, "equipment", i), f"no tag {tag_path(path, n)!r} in the site")
                for n in names
                if tag_path(path, n) not in tags
            ]
    return found


def load_section(apps: AppsFile, site: SiteFile) -> MaintenanceSection | None:
    """The ``maintenance:`` section checked against ``site``; None when the file has none."""
    return apps.checked_section(SECTION, MaintenanceSection, lambda s: _problems(s, site))
