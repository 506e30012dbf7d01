"""Measurement noise is a pure function of (seed, equipment, step): the reused generator
gives exactly the numbers of a generator made for that step."""

import numpy as np

from factoryos.sim.rand import equipment_key, measurement_noise


def _fresh(seed: int, equipment: str, step: int, n: int) -> np.ndarray:
    bits = np.random.Philox(key=[seed, equipment_key(equipment)], counter=[0, step, 0, 0])
    return np.random.Generator(bits).standard_normal(n)


def test_noise_equals_a_fresh_generator_at_the_step_in_any_order() -> None:
    rng = np.random.default_rng(7)
    for _ in range(500):
        seed, step = int(rng.integers(0, 2**40)), int(rng.integers(0, 2**62))
        n, equipment = int(rng.integers(1, 12)), f"demo/a/l/c/m-{int(rng.integers(0, 4))}"
        assert np.array_equal(
            measurement_noise(seed, equipment, step, n), _fresh(seed, equipment, step, n)
        )


def test_reading_a_step_twice_gives_the_same_numbers() -> None:
    first = measurement_noise(3, "m", 10, 5)
    measurement_noise(3, "m", 11, 5)
    assert np.array_equal(measurement_noise(3, "m", 10, 5), first)
    assert not np.array_equal(measurement_noise(3, "m", 11, 5), first)
