"""exchange.smoothing.ewma: the scalar recursion's values, causal bit for bit, no BLAS."""
from __future__ import annotations

import numpy as np
import pytest

from pytest_stress.exchange.smoothing import ewma, ewma_rows


def scalar_ewma(x: np.ndarray, halflife: float) -> np.ndarray:
    d = 0.5 ** (1.0 / halflife)
    out, y = [], float(x[0])
    for v in x.tolist():
        y = d * y + (1.0 - d) * v
        out.append(y)
    return np.array(out)


@pytest.mark.parametrize("n", [1, 2, 63, 64, 65, 129, 5000])
@pytest.mark.parametrize("halflife", [0.5, 24.0, 1000.0])
def test_ewma_is_the_scalar_recursion(n, halflife):
    x = np.random.default_rng(n).standard_normal(n) * 0.01 + 0.002
    got, want = ewma(x, halflife), scalar_ewma(x, halflife)
    assert got.shape == (n,) and got[0] == x[0]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-14 * np.abs(want).max())


def test_ewma_prefix_is_bit_identical():
    """Causal to the bit: the values of a prefix do not depend on the bars after it."""
    x = np.random.default_rng(7).standard_normal(1000)
    full = ewma(x, 24.0)
    for k in (1, 10, 63, 64, 65, 500, 999):
        assert np.array_equal(ewma(x[:k], 24.0), full[:k]), k


def test_ewma_rows_and_constant_input():
    x = np.vstack([np.full(300, 3.25), np.arange(300.0)])
    rows = ewma_rows(x, 24.0)
    np.testing.assert_allclose(rows[0], 3.25, rtol=1e-15)      # a constant stays constant
    assert np.array_equal(rows[1], ewma(x[1], 24.0))
    assert ewma(np.empty(0), 24.0).shape == (0,)
