"""Built-in device reports."""
