"""Declarative catalogs (TOML) of datasets, models and suites, shipped with rankarena.

Empty so far: the catalogs arrive with the retrieval runs (datasets.toml, models.toml,
suites.toml), read with ``importlib.resources``.
"""
