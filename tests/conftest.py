import numpy as np
import pytest

pytest_plugins = ["leftovers"]      # no test may leave a process behind (tests/leftovers.py)

from pytest_stress.market import generate_market


@pytest.fixture(scope="session")
def market():
    """A 2,000-bar hourly BTC market, the same in every test."""
    return generate_market(("BTCUSDT",), 2000, "1h", np.random.default_rng(7))


@pytest.fixture(scope="session")
def pair_market():
    return generate_market(("BTCUSDT", "ETHUSDT"), 2000, "1h", np.random.default_rng(8), correlation=0.8)
