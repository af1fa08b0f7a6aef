"""Runs: the run configuration, the runner, its cells (one retrieval + evaluation each) and
system search.
"""
