"""Package exports that load on first use (PEP 562 module ``__getattr__``).

For packages the pytest plugin reads at start-up (the account rules, the exchange presets):
``from pytest_stress.account import Account`` then imports ``account.rules`` alone, not
the ledger with numpy and the market behind it.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, exports: dict[str, str],
                 namespace: dict[str, Any]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``, whose name ``n`` lives in its submodule ``exports[n]``;
    a loaded name is kept in the package's ``namespace`` (its ``globals()``)."""

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{exports[name]}"), name)   # lazy: the module's purpose
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(exports)

    return __getattr__, __dir__
