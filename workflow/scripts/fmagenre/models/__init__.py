"""Genre classifiers: architectures (zoo), training, metrics, checkpoints and prediction.

Nothing is imported here, so that light modules (``runs``) load without torch.
"""
