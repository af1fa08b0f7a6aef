"""The ``rankarena`` command line."""
