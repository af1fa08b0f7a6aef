"""Built-in hard-negative samplers."""
