"""layers.discrete against scipy.stats: the same quantiles to the count and the same tails to rounding."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from layers.discrete import nbinom_ppf, nbinom_sf, poisson_ppf, poisson_sf

RNG = np.random.default_rng(20261204)
MU = np.concatenate([np.exp(RNG.uniform(np.log(1e-9), np.log(500), 50_000)), [1e-9, 0.1, 1.0, 3.0, 100.0]])
PHI = RNG.uniform(1.0001, 20.0, MU.size)  # variance / mean, as the warnings estimate it
N, P = MU / (PHI - 1.0), 1.0 / PHI
K = RNG.integers(-1, 200, MU.size).astype(float)  # observed - 1: -1 when nothing was observed


@pytest.mark.parametrize("q", [0.999, 0.99, 0.95, 0.5])
def test_quantiles_are_scipy_s(q: float) -> None:
    np.testing.assert_array_equal(poisson_ppf(q, MU), stats.poisson.ppf(q, MU))
    np.testing.assert_array_equal(nbinom_ppf(q, N, P), stats.nbinom.ppf(q, N, P))


def test_upper_tails_are_scipy_s() -> None:
    np.testing.assert_allclose(poisson_sf(K, MU), stats.poisson.sf(K, MU), rtol=1e-10, atol=1e-300)
    np.testing.assert_allclose(nbinom_sf(K, N, P), stats.nbinom.sf(K, N, P), rtol=1e-10, atol=1e-300)


def test_below_the_support_the_tail_is_one() -> None:
    assert poisson_sf(np.array([-1.0]), np.array([2.0]))[0] == 1.0
    assert nbinom_sf(np.array([-1.0]), np.array([2.0]), np.array([0.5]))[0] == 1.0
