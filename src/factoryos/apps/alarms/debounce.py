"""Hysteresis and on/off delays over a column of samples, vectorised with numpy.

Input per sample is a signal: +1 "the activate test holds", -1 "the clear test holds",
0 "inside the deadband: keep the previous raw state". The raw state must then hold for the
on-delay (or off-delay) before the debounced state follows; a raw run that ends sooner is
forgotten. Only the runs of the raw state are looped over in Python, not the samples.
"""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass
class Debouncer:
    on_ns: int
    off_ns: int
    raw: bool = False
    run_start: int = 0  # when the current raw run began
    confirmed: bool = False

    def _raw_states(self, signal: npt.NDArray[np.int8]) -> npt.NDArray[np.bool_]:
        """Forward-fill the last non-zero signal; before the first one, the carried raw."""
        n = len(signal)
        last = np.where(signal != 0, np.arange(n), -1)
        np.maximum.accumulate(last, out=last)
        return np.where(last >= 0, signal[np.maximum(last, 0)] > 0, self.raw)

    def feed(
        self, ts: npt.NDArray[np.int64], signal: npt.NDArray[np.int8]
    ) -> list[tuple[int, bool]]:
        """(sample index, new debounced state) for each change, in time order."""
        if len(ts) == 0:
            return []
        if self.raw == self.confirmed and not (signal < 0 if self.raw else signal > 0).any():
            return []  # the steady state, nothing pulls away from it: most rules, most batches
        raw = self._raw_states(signal)
        cuts = np.flatnonzero(raw[1:] != raw[:-1]) + 1
        starts = np.concatenate(([0], cuts))
        ends = np.concatenate((cuts, [len(ts)]))
        changes = []
        for i, j in zip(starts.tolist(), ends.tolist(), strict=True):
            state = bool(raw[i])
            continues = i == 0 and state == self.raw
            self.run_start = self.run_start if continues else int(ts[i])
            self.raw = state
            if state != self.confirmed:
                due = self.run_start + (self.on_ns if state else self.off_ns)
                k = i + int(np.searchsorted(ts[i:j], due, side="left"))
                if k < j:
                    self.confirmed = state
                    changes.append((k, state))
        return changes

    def due(self, now: int) -> bool:
        """Whether a pending change has waited out its delay by ``now`` (and take it)."""
        if self.raw == self.confirmed:
            return False
        if now < self.run_start + (self.on_ns if self.raw else self.off_ns):
            return False
        self.confirmed = self.raw
        return True
