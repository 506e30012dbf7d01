"""Operating conditions and per-condition sensor scaling, fitted on training rows only.

C-MAPSS engines fly at one (FD001/FD003) or six (FD002/FD004) operating points given by
the three settings (altitude kft, Mach, throttle resolver angle). A sensor's reading depends
far more on the operating point than on wear, so each sensor is standardised with the mean
and spread of its own operating condition. Conditions are found, not told: settings within
:data:`SETTING_TOLERANCE` of each other are one condition (leader clustering on a grid),
so the same code serves every subset.
"""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from factoryos.apps.maintenance.rul.errors import RulDataError

F64 = npt.NDArray[np.float64]
IDX = npt.NDArray[np.intp]

# Altitude [kft], Mach [-], throttle resolver angle [deg]: far wider than the measurement
# noise of one operating point (FD001: ±0.009 kft, ±0.0006 Mach), far narrower than the
# gaps between the points of FD002/FD004 (Mach 0.62 vs 0.70 is the closest pair).
SETTING_TOLERANCE = np.array([1.0, 0.05, 1.0])
# A row further than this many tolerances from every known condition is an operating point
# the model never saw: refuse it rather than scale it with the wrong statistics.
UNSEEN_DISTANCE = 3.0
MIN_DISTINCT = 10  # a sensor with fewer distinct readings per condition carries no trend
MIN_SPREAD = 1e-9


def _leaders(settings: F64) -> F64:
    """One centre per group of settings within the tolerance (grid points, then merged)."""
    grid = np.unique(np.round(settings / SETTING_TOLERANCE), axis=0) * SETTING_TOLERANCE
    centres: list[F64] = []
    for point in grid:
        if not any(np.all(np.abs(point - c) <= SETTING_TOLERANCE) for c in centres):
            centres.append(point)
    return np.array(centres, dtype=np.float64)


def _distances(settings: F64, centres: F64) -> F64:
    scaled = (settings[:, None, :] - centres[None, :, :]) / SETTING_TOLERANCE
    found: F64 = np.sqrt(np.sum(scaled**2, axis=-1))
    return found


@dataclass(frozen=True, slots=True)
class SensorScaler:
    """Condition centres (k×3) and, for the kept sensors, per-condition mean and std (k×s)."""

    centres: F64
    sensors: tuple[int, ...]  # 0-based columns of the 21 sensors, kept
    dropped: tuple[int, ...]  # 0-based columns dropped: (nearly) constant within conditions
    mean: F64
    std: F64

    @property
    def conditions(self) -> int:
        return int(self.centres.shape[0])

    def condition(self, settings: F64, where: str = "rows") -> IDX:
        """The condition of each row; a row far from every condition is an error."""
        d = _distances(settings, self.centres)
        label: IDX = np.argmin(d, axis=1)
        far = np.flatnonzero(d[np.arange(d.shape[0]), label] > UNSEEN_DISTANCE)
        if far.size:
            row = int(far[0])
            raise RulDataError(
                f"{where}: row {row} settings {settings[row].tolist()} match no operating "
                f"condition seen in training ({self.centres.round(3).tolist()})"
            )
        return label

    def transform(self, settings: F64, sensors: F64, where: str = "rows") -> F64:
        """Kept sensors standardised with their row's condition statistics."""
        columns = len(self.sensors) + len(self.dropped)
        if sensors.ndim != 2 or sensors.shape[1] != columns:
            raise RulDataError(
                f"{where}: sensors {sensors.shape}: the model was fitted on {columns} columns"
            )
        label = self.condition(settings, where)
        kept = sensors[:, list(self.sensors)]
        scaled: F64 = (kept - self.mean[label]) / self.std[label]
        return scaled


def fit_scaler(settings: F64, sensors: F64) -> SensorScaler:
    """Find the conditions, drop sensors without a trend, and learn the per-condition scale."""
    centres = _leaders(settings)
    label = np.argmin(_distances(settings, centres), axis=1)
    k = centres.shape[0]
    centres = np.array([settings[label == c].mean(axis=0) for c in range(k)])
    keep: list[int] = []
    drop: list[int] = []
    for j in range(sensors.shape[1]):
        groups = [sensors[label == c, j] for c in range(k)]
        distinct = np.median([np.unique(g).size for g in groups])
        spread = min(float(g.std()) for g in groups)
        (keep if distinct >= MIN_DISTINCT and spread > MIN_SPREAD else drop).append(j)
    if not keep:
        raise RulDataError(f"sensors: all {sensors.shape[1]} are constant within conditions")
    mean = np.array([sensors[label == c][:, keep].mean(axis=0) for c in range(k)])
    std = np.array([sensors[label == c][:, keep].std(axis=0) for c in range(k)])
    return SensorScaler(centres, tuple(keep), tuple(drop), mean, np.maximum(std, MIN_SPREAD))
