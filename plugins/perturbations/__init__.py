"""Built-in robustness perturbations."""
