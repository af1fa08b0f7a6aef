"""Robustness: perturbation runs, text-noise helpers, topic attacks, plots."""
