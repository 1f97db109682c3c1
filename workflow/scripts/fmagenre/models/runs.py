"""Run folders of a model's seed replicates (docs/ARCHITECTURE.md), light enough for rule files.

Replicate 0 of model ``name`` is ``results/models/{name}/`` (seed = the model's seed); replicate
k >= 1 is ``results/models/{name}/replicates/{k}/`` (seed + k), with the same files.
"""

from __future__ import annotations

from pathlib import Path

REPLICATES_DIR = "replicates"


def replicate_dir(models_dir: str, name: str, replicate: int) -> str:
    """Folder of one training run of model ``name`` (the layout in the module docstring)."""
    if replicate == 0:
        return f"{models_dir}/{name}"
    return f"{models_dir}/{name}/{REPLICATES_DIR}/{replicate}"


def replicate_seed(seed: int, replicate: int) -> int:
    return int(seed) + int(replicate)


def run_of(path: str) -> tuple[str, int]:
    """(model, replicate) of a file inside a run folder of :func:`replicate_dir`."""
    folder = Path(path).parent
    if folder.parent.name == REPLICATES_DIR and folder.name.isdigit():
        return folder.parent.parent.name, int(folder.name)
    return folder.name, 0
