"""The plugin host: hook specifications, the host and its registries, component protocols
checked at registration, parameter checks, devices, dataset references (``open_dataset``),
the results recorder and observers, TOML config reading.
"""
