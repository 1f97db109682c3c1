"""Genre classifiers: architectures (zoo), training, metrics, checkpoints and prediction."""

from fmagenre.models.checkpoint import denormalise, load_model, normalise, track_logits
from fmagenre.models.zoo import build_model

__all__ = ["build_model", "denormalise", "load_model", "normalise", "track_logits"]
