"""PCA T²/Q against a hand computation, and its Q limit against simulation."""

import numpy as np
from scipy import stats

from factoryos.apps.maintenance.detectors.pca import PcaCore, q_limit, t2_limit


def _data(seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(300, 2))
    mix = np.array([[1.0, 0.8, 0.0, 0.5], [0.0, 0.6, 1.0, -0.5]])
    x = latent @ mix + 0.1 * rng.normal(size=(300, 4))
    z: np.ndarray = (x - x.mean(0)) / x.std(0)
    return z


def test_t2_and_q_match_an_eigen_decomposition_by_hand() -> None:
    z = _data()
    core = PcaCore.fit(z, var_keep=0.90, alpha=0.01)
    assert core.loadings.shape == (4, 2)  # two latent factors explain > 90 %
    # by hand: covariance eigenvectors, T² = Σ t²/λ over the two kept, Q = |z − P Pᵀ z|²
    lam, vec = np.linalg.eigh(np.cov(z, rowvar=False))
    order = np.argsort(lam)[::-1]
    lam, vec = lam[order][:2], vec[:, order][:, :2]
    row = z[7]
    t = row @ vec
    t2 = float(np.sum(t**2 / lam))
    q = float(np.sum((row - vec @ t) ** 2))
    stat, contrib = core.stat_contrib(z[7:8])
    assert np.isclose(stat[0], max(t2 / core.t2_ucl, q / core.q_ucl), rtol=1e-9)
    # the Q part of the contributions is the squared residual of each feature
    resid = row - vec @ t
    t2_part = np.abs((vec @ (t / lam)) * row) / core.t2_ucl
    assert np.allclose(contrib[0], resid**2 / core.q_ucl + t2_part, rtol=1e-9)


def test_t2_limit_is_the_hotelling_f_limit() -> None:
    # a = 2, n = 100, α = 0.01: 2·(100² − 1)/(100·98) · F(0.99; 2, 98)
    f = stats.f.ppf(0.99, 2, 98)
    assert np.isclose(t2_limit(100, 2, 0.01), 2 * 9999 / 9800 * f)
    assert 9.5 < t2_limit(100, 2, 0.01) < 10.0  # F(0.99; 2, 98) ≈ 4.82


def test_q_limit_matches_the_simulated_99th_percentile() -> None:
    rng = np.random.default_rng(3)
    # Jackson–Mudholkar is an approximation: exact for equal eigenvalues, about 1 % high for a
    # spread of ten (4 % for a steep spread of four, measured while writing this test)
    for lam, tol in ((np.full(6, 0.2), 0.005), (np.linspace(0.5, 0.05, 10), 0.02)):
        q = (rng.normal(size=(400_000, lam.size)) ** 2) @ lam  # Q of Gaussian residuals
        simulated = float(np.quantile(q, 0.99))
        assert abs(q_limit(lam, 0.01) / simulated - 1) < tol
