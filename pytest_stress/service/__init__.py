"""The stress-testing service (``pytest-stress serve``): background runs over HTTP.

``app.py`` (FastAPI, the endpoints), ``store.py`` (SQLite), ``pool.py`` (worker processes),
``worker.py`` (one run in a worker, with progress), ``specs.py`` (what a request may ask
for), ``security.py`` (body limit, bearer token), ``dashboard.py`` (the page at ``/``),
``serve.py`` (the command). Importing this package does not import FastAPI; only
``app.py`` and serving do (the optional extra ``server``).
"""
from __future__ import annotations

from .settings import Limits, Settings

__all__ = ["Limits", "Settings"]
