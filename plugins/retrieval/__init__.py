"""Built-in retrievers."""
