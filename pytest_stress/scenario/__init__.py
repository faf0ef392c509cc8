"""What a stress test is: its kind (one table), parameters, faults and market."""
from .definition import DEFAULT_SEED, Scenario, derive_seed, name_seed
from .faults import Faults
from .kinds import BASE_PARAMS, KINDS, Kind, kind_of, params_for
from .types import ScenarioType

__all__ = ["Scenario", "ScenarioType", "DEFAULT_SEED", "derive_seed", "name_seed", "params_for", "BASE_PARAMS",
           "Kind", "KINDS", "kind_of", "Faults"]
