"""rankarena's built-in plugins: ordinary plugin modules, one per component family.

They use only the public API (``rankarena`` and its documented submodules), exactly as a
third-party plugin would.
"""
