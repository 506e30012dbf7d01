"""Statistical process control for the quality application: pure functions, no I/O.

* :mod:`.charts` — Shewhart X̄-R, X̄-S, I-MR, p, np, c and u charts, Phase I (limits
  from the data) or Phase II (limits from a given standard), points outside flagged;
* :mod:`.capability` — Cp, Cpk, Pp, Ppk with confidence intervals;
* :mod:`.rules` — Nelson's eight run tests and the Western Electric four;
* :mod:`.constants` — the control chart constants (d2, d3, c4, A2 … D4) for n = 2–25.

Every bad input raises :class:`SpcError` (a ``ValueError``) naming what is wrong.
"""

from factoryos.apps.trace.spc.capability import (
    Capability,
    Indices,
    Interval,
    SpecLimits,
    WithinSigma,
    capability,
    individuals_capability,
    subgroup_capability,
)
from factoryos.apps.trace.spc.charts import (
    Chart,
    ChartPair,
    Phase,
    Standard,
    c_chart,
    imr_chart,
    np_chart,
    p_chart,
    u_chart,
    xbar_r_chart,
    xbar_s_chart,
)
from factoryos.apps.trace.spc.constants import ChartConstants, c4, constants, d2, d3
from factoryos.apps.trace.spc.errors import SpcError
from factoryos.apps.trace.spc.rules import RuleResult, nelson_rules, western_electric_rules

__all__ = [
    "Capability",
    "Chart",
    "ChartConstants",
    "ChartPair",
    "Indices",
    "Interval",
    "Phase",
    "RuleResult",
    "SpcError",
    "SpecLimits",
    "Standard",
    "WithinSigma",
    "c4",
    "c_chart",
    "capability",
    "constants",
    "d2",
    "d3",
    "imr_chart",
    "individuals_capability",
    "nelson_rules",
    "np_chart",
    "p_chart",
    "subgroup_capability",
    "u_chart",
    "western_electric_rules",
    "xbar_r_chart",
    "xbar_s_chart",
]
