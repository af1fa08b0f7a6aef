"""The plugin host: hook specifications, the host and its registries, component protocols,
parameter checks, devices, observers, TOML config reading.
"""
