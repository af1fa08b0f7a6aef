"""Declarative catalogs (TOML) shipped with rankarena, read with ``importlib.resources``.

- ``models.toml``: model aliases of the dense retriever (``rankarena.retrieval.models``);
- ``datasets.toml``: the BEIR datasets, with url, size, md5 and licence
  (``rankarena.data.catalog``);
- ``suites.toml``: named sets of datasets (``suite:NAME`` in a run config).
"""
