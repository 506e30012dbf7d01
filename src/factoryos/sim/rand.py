"""Deterministic randomness for the machine models.

Process randomness (events, durations, wear) comes from one seeded generator per
equipment, drawn in blocks to keep the per-step cost small; the sequence depends only on
(seed, equipment path), so adding a machine does not change the others. Measurement noise
is a pure function of (seed, equipment, step), so reading a signal never consumes process
randomness: values are the same whether a run reads every step or only the last one.
"""

import math
import threading
import zlib

import numpy as np
import numpy.typing as npt

_BLOCK = 1024
_MASK64 = (1 << 64) - 1


def equipment_key(equipment: str) -> int:
    """A stable 32-bit key of an equipment path (Python's ``hash`` is salted per process)."""
    return zlib.crc32(equipment.encode("utf-8"))


class Draws:
    """Uniform and standard normal numbers from a seeded generator, drawn in blocks."""

    def __init__(self, seed: int, equipment: str) -> None:
        self._rng = np.random.default_rng(np.random.SeedSequence([seed, equipment_key(equipment)]))
        self._u: list[float] = []
        self._z: list[float] = []

    def u(self) -> float:
        """Uniform on [0, 1)."""
        if not self._u:
            self._u = self._rng.random(_BLOCK).tolist()
        return self._u.pop()

    def z(self) -> float:
        """Standard normal."""
        if not self._z:
            self._z = self._rng.standard_normal(_BLOCK).tolist()
        return self._z.pop()

    def exponential(self, mean: float) -> float:
        """Exponential with the given mean."""
        return -mean * math.log1p(-self.u())

    def around(self, mean: float, spread: float = 0.5) -> float:
        """Uniform on ``mean * [1 - spread, 1 + spread]``."""
        return mean * (1.0 - spread + 2.0 * spread * self.u())


class _NoiseStream:
    """One Philox generator per (seed, equipment), moved to a step's counter by setting its
    state: the same numbers as a new generator per call, at a quarter of the cost (history
    runs draw noise for every equipment at every step)."""

    def __init__(self, seed: int, equipment: str) -> None:
        self.bits = np.random.Philox(key=[seed & _MASK64, equipment_key(equipment)])
        self.gen = np.random.Generator(self.bits)
        fresh = self.bits.state
        self.key = fresh["state"]["key"]
        self.buffer = fresh["buffer"]

    def at(self, step: int, n: int) -> npt.NDArray[np.float64]:
        counter = np.array([0, step & _MASK64, 0, 0], dtype=np.uint64)
        self.bits.state = {
            "bit_generator": "Philox",
            "state": {"counter": counter, "key": self.key},
            "buffer": self.buffer,
            "buffer_pos": 4,  # buffer used up: the next draw starts at the counter
            "has_uint32": 0,
            "uinteger": 0,
        }
        return self.gen.standard_normal(n)


_streams = threading.local()
_MAX_STREAMS = 4096  # (seed, equipment) pairs kept per thread


def measurement_noise(seed: int, equipment: str, step: int, n: int) -> npt.NDArray[np.float64]:
    """``n`` standard normals for one equipment at one step, independent of every other.

    Philox is counter-based: the step is the second counter word, so each step's stream is
    2**64 blocks away from the next one's.
    """
    cache: dict[tuple[int, str], _NoiseStream] = _streams.__dict__.setdefault("cache", {})
    stream = cache.get((seed, equipment))
    if stream is None:
        if len(cache) >= _MAX_STREAMS:
            cache.clear()
        stream = cache[(seed, equipment)] = _NoiseStream(seed, equipment)
    return stream.at(step, n)
