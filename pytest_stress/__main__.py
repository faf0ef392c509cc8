"""``python -m pytest_stress`` and the ``pytest-stress`` script: the command line lives in ``cli.py``."""
from __future__ import annotations

import sys

from .cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
