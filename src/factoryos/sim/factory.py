"""The virtual factory: every simulated equipment of a site, stepped on one clock."""

import logging
import math

from factoryos.model.site import SiteFile, TagRef
from factoryos.model.tags import Tag
from factoryos.sim.errors import FaultError, SimConfigError, UnknownPathError
from factoryos.sim.models import MACHINE_MODELS, EnergyMeter, Machine, Model, ModelContext
from factoryos.sim.registers import Quantizer
from factoryos.sim.states import NS_PER_S, FaultKind
from factoryos.sim.truth import FaultEvent, GroundTruth, PlannedStop

log = logging.getLogger(__name__)

#: Default start of simulated time: Monday 2025-01-06 00:00:00 UTC.
DEFAULT_START_NS = 1_736_121_600 * NS_PER_S


class VirtualFactory:
    """Simulates every equipment of ``site`` that has a ``simulate:`` section.

    Time starts at ``start_ns`` and moves only by :meth:`step`, ``step_s`` at a time, so a
    run is fully determined by (site, seed, start_ns, step_s, injected faults): the same
    inputs give the same signals and the same :attr:`truth`, at any speed.
    """

    def __init__(
        self,
        site: SiteFile,
        seed: int = 0,
        start_ns: int = DEFAULT_START_NS,
        step_s: float = 1.0,
    ) -> None:
        if seed < 0:
            raise SimConfigError(f"seed must be >= 0, got {seed}")
        if not (math.isfinite(step_s) and 0.001 <= step_s <= 3600.0):
            raise SimConfigError(f"step_s must be between 0.001 and 3600 s, got {step_s}")
        self.site = site
        self.seed = seed
        self.start_ns = start_ns
        self.step_s = step_s
        self.step_ns = round(step_s * NS_PER_S)
        self.steps = 0
        self.truth = GroundTruth()
        self._models = self._build_models()
        self._meters = [m for m in self._models.values() if isinstance(m, EnergyMeter)]
        self._machines = [m for m in self._models.values() if not isinstance(m, EnergyMeter)]
        self._tags = self._bind_tags()
        self._quantizer = Quantizer([tag for _, tag in self._tags.values()])
        self._signal_of = [(eq, tag.sim_signal) for eq, tag in self._tags.values()]
        self._equipment_paths = list(dict.fromkeys(eq for eq, _ in self._signal_of))
        self._cache: dict[str, dict[str, float]] = {}
        self._values: dict[str, float] | None = None  # every tag's value(), built on demand

    def _build_models(self) -> dict[str, Model]:
        models: dict[str, Model] = {}
        meters: list[tuple[str, ModelContext]] = []
        for ref in self.site.equipment():
            spec = ref.equipment.simulate
            if spec is None:
                continue
            ctx = ModelContext(
                ref.path, self.seed, self.start_ns, self.step_s, self.truth, spec.params
            )
            if spec.model == "energy_meter":
                meters.append((ref.path, ctx))
            else:
                models[ref.path] = MACHINE_MODELS[spec.model](ctx)
        machines = [m for m in models.values() if isinstance(m, Machine)]
        for path, ctx in meters:
            models[path] = EnergyMeter(ctx, machines)
        return models

    def _bind_tags(self) -> dict[str, tuple[str, Tag]]:
        bound: dict[str, tuple[str, Tag]] = {}
        for ref in self.site.tags():
            eq_path = ref.path.rsplit("/", 1)[0]
            model = self._models.get(eq_path)
            if model is None or ref.tag.computed:  # the platform writes it, not the machine
                continue
            if ref.tag.sim_signal not in model.signal_names:
                raise SimConfigError(
                    f"tag {ref.path}: signal {ref.tag.sim_signal!r} is not simulated; "
                    f"{type(model).__name__} provides {', '.join(model.signal_names)}"
                )
            bound[ref.path] = (eq_path, ref.tag)
        return bound

    @property
    def now_ns(self) -> int:
        """Current simulated time, ns since the epoch (UTC)."""
        return self.start_ns + self.steps * self.step_ns

    def equipment_paths(self) -> list[str]:
        """Paths of the simulated equipment, in site-file order."""
        return list(self._models)

    def tag_refs(self) -> list[TagRef]:
        """The site's tags whose values this factory simulates, in site-file order."""
        return [ref for ref in self.site.tags() if ref.path in self._tags]

    def step(self) -> None:
        """Advance simulated time by one step."""
        t0 = self.now_ns
        for meter in self._meters:  # before the machines: it integrates their power over t0…
            meter.step(t0)
        for machine in self._machines:
            machine.step(t0)
        self.steps += 1
        self._changed()

    def advance(self, n_steps: int) -> None:
        """Advance simulated time by ``n_steps`` steps."""
        for _ in range(n_steps):
            self.step()

    def signals(self, equipment_path: str) -> dict[str, float]:
        """Every signal of one equipment now (engineering units, not quantised)."""
        return dict(self._signals(equipment_path))

    def _signals(self, equipment_path: str) -> dict[str, float]:
        cached = self._cache.get(equipment_path)
        if cached is None:
            cached = self._model(equipment_path).signals(self.steps)
            self._cache[equipment_path] = cached
        return cached

    def value(self, tag_path: str) -> float:
        """The tag's engineering value now, quantised exactly as its registers hold it."""
        self._tag(tag_path)  # UnknownPathError for a path it does not simulate
        return self.values()[tag_path]

    def values(self) -> dict[str, float]:
        """Every simulated tag's value now (as :meth:`value`), by path; do not modify."""
        if self._values is None:
            # All tags in one columnar pass: callers read many tags per step.
            by_eq = {eq: self._signals(eq) for eq in self._equipment_paths}
            signals = [by_eq[eq][name] for eq, name in self._signal_of]
            values = self._quantizer.quantize(signals).tolist()
            self._values = dict(zip(self._tags, values, strict=True))
        return self._values

    def signal_of(self, tag_path: str) -> float:
        """The tag's signal value now, before quantisation (what the server encodes)."""
        eq_path, tag = self._tag(tag_path)
        return self._signals(eq_path)[tag.sim_signal]

    def inject_fault(
        self,
        equipment_path: str,
        kind: FaultKind | str,
        *,
        severity: float = 1.0,
        duration_s: float | None = None,
    ) -> FaultEvent:
        """Inject a fault now and record it in the ground truth (see :class:`FaultKind`)."""
        model = self._model(equipment_path)
        try:
            fault = FaultKind(kind)
        except ValueError:
            known = ", ".join(k.value for k in FaultKind)
            raise FaultError(f"{equipment_path}: unknown fault {kind!r}; known: {known}") from None
        if not (math.isfinite(severity) and severity > 0.0):
            raise FaultError(f"{equipment_path}: severity must be > 0, got {severity}")
        if duration_s is not None and not (math.isfinite(duration_s) and duration_s > 0.0):
            raise FaultError(f"{equipment_path}: duration_s must be > 0, got {duration_s}")
        model.inject(fault, self.now_ns, severity, duration_s)
        event = FaultEvent(self.now_ns, equipment_path, fault, severity, duration_s)
        self.truth.faults.append(event)
        self._changed()
        log.info("injected %s into %s at %d", fault.value, equipment_path, self.now_ns)
        return event

    def carry_wear(self, other: "VirtualFactory") -> None:
        """Give each machine the wear its namesake in ``other`` has reached: a run that goes on
        where another (at another step size) stopped, with the machines as worn as they were."""
        for path, model in self._models.items():
            before = other._models.get(path)
            if isinstance(model, Machine) and isinstance(before, Machine):
                model.health, model.wear_mult = before.health, before.wear_mult

    def plan_stop(
        self, equipment_path: str, start_ns: int, end_ns: int, reason: str = "planned stop"
    ) -> PlannedStop:
        """Schedule a planned stop (maintenance, a holiday) beyond the daily shift plan.

        The machine stops at the first step boundary inside ``[start_ns, end_ns)`` as it does
        for the end of a shift, and the stop is recorded in the ground truth.
        """
        model = self._model(equipment_path)
        if not isinstance(model, Machine):
            raise FaultError(f"{equipment_path}: only machines have a shift plan")
        if end_ns <= start_ns:
            raise FaultError(f"{equipment_path}: planned stop end must be after its start")
        model.stops.append((start_ns, end_ns))
        stop = PlannedStop(equipment_path, start_ns, end_ns, reason)
        self.truth.planned_stops.append(stop)
        return stop

    def _changed(self) -> None:
        self._cache.clear()
        self._values = None

    def _model(self, equipment_path: str) -> Model:
        model = self._models.get(equipment_path)
        if model is None:
            raise UnknownPathError(f"no simulated equipment {equipment_path!r}")
        return model

    def _tag(self, tag_path: str) -> tuple[str, Tag]:
        bound = self._tags.get(tag_path)
        if bound is None:
            raise UnknownPathError(f"no simulated tag {tag_path!r}")
        return bound
