"""Poisson and negative-binomial quantiles and upper tails from `scipy.special`, as `scipy.stats` computes them.

The warnings need only these four; importing `scipy.stats` for them cost about a second at a server's first page.
"""

from __future__ import annotations

import numpy as np
from scipy import special


def poisson_ppf(q: float, mu: np.ndarray) -> np.ndarray:
    """The smallest k with P(X ≤ k) ≥ q for X ~ Poisson(mu) (scipy.stats.poisson.ppf)."""
    above = np.ceil(special.pdtrik(q, mu))
    below = np.maximum(above - 1, 0)
    return np.where(special.pdtr(below, mu) >= q, below, above)


def poisson_sf(k: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """P(X > k) for X ~ Poisson(mu) (scipy.stats.poisson.sf); 1 below the support."""
    k = np.floor(k)
    return np.where(k < 0, 1.0, special.pdtrc(np.maximum(k, 0), mu))


def nbinom_ppf(q: float, n: np.ndarray, p: np.ndarray) -> np.ndarray:
    """The smallest k with P(X ≤ k) ≥ q for X ~ NB(n, p), failures before the n-th success (scipy.stats.nbinom)."""
    with np.errstate(over="ignore"):
        above = np.ceil(special.nbdtrik(q, n, p))
    below = np.maximum(above - 1, 0)
    return np.where(special.betainc(n, below + 1, p) >= q, below, above)


def nbinom_sf(k: np.ndarray, n: np.ndarray, p: np.ndarray) -> np.ndarray:
    """P(X > k) for X ~ NB(n, p) (scipy.stats.nbinom.sf); 1 below the support."""
    k = np.floor(k)
    return np.where(k < 0, 1.0, special.betaincc(n, np.maximum(k, 0) + 1, p))
