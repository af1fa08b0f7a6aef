"""Training: hard-negative mining and its diagnostics, training batches, GradCache and the
trainer.
"""
