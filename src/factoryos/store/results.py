"""Query results shared by the time-series backends."""

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class Aggregates:
    """Per-bucket aggregates: bucket start times and one column per requested aggregate."""

    bucket_ns: npt.NDArray[np.int64]
    columns: dict[str, npt.NDArray[Any]]
