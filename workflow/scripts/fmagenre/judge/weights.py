"""Setup step: musicnn's trained weights from its PyPI wheel to PyTorch state dicts.

Run once by ``make setup`` (and by ``make run`` / ``make test`` when ``resources/musicnn/`` is
incomplete), never by the workflow: the wheel is fetched with ``pip download`` before this runs, its
sha256 is checked against the pin below, the MSD_musicnn and MTT_musicnn TensorFlow checkpoints and
the tag lists of ``musicnn/configuration.py`` are taken from it, and each checkpoint is converted to
``resources/musicnn/{model}.pt`` (loads with ``torch.load(..., weights_only=True)``). The raw
checkpoint files are kept under ``resources/musicnn/tf/{model}/`` for the reader's tests.

    python -m fmagenre.judge.weights --wheel .cache/musicnn/musicnn-0.1.0-py3-none-any.whl \
        --out resources/musicnn
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import zipfile
from pathlib import Path

import torch

from fmagenre.io import atomic_path, sha256_file, write_json
from fmagenre.judge.musicnn import MODELS, state_dict_from_tf
from fmagenre.judge.tf_checkpoint import read_checkpoint

WHEEL = "musicnn-0.1.0-py3-none-any.whl"
WHEEL_SHA256 = "f38a4890c648c1ddbb141c5d96d2b0a8cfcd36746002d896989f7b88beb65cfa"
CHECKPOINT_FILES = (".index", ".data-00000-of-00001")
TAG_LISTS = {"MSD_musicnn": "MSD_LABELS", "MTT_musicnn": "MTT_LABELS"}
MANIFEST = "manifest.json"


def tag_lists(configuration_py: str) -> dict[str, list[str]]:
    """The label lists of the wheel's ``configuration.py``, read without executing it."""
    found = {}
    for node in ast.parse(configuration_py).body:
        target = node.targets[0] if isinstance(node, ast.Assign) else None
        if isinstance(target, ast.Name) and target.id in TAG_LISTS.values():
            found[target.id] = ast.literal_eval(node.value)
    return {model: found[name] for model, name in TAG_LISTS.items()}


def convert_wheel(wheel: str | os.PathLike, out_dir: str | os.PathLike) -> dict:
    """Check the wheel, extract both checkpoints, write their state dicts; return the manifest."""
    wheel, out_dir = Path(wheel), Path(out_dir)
    actual = sha256_file(wheel)
    if actual != WHEEL_SHA256:
        raise ValueError(
            f"{wheel}: sha256 {actual} differs from the pinned {WHEEL_SHA256}; delete the file "
            f"and rerun `make setup` (or check where the download came from)"
        )
    with zipfile.ZipFile(wheel) as archive:
        tags = tag_lists(archive.read("musicnn/configuration.py").decode())
        licence = archive.read("musicnn-0.1.0.dist-info/LICENSE.md")
        for model in MODELS:
            for name in CHECKPOINT_FILES:
                target = out_dir / "tf" / model / name
                with atomic_path(target) as tmp:
                    tmp.write_bytes(archive.read(f"musicnn/{model}/{name}"))
    with atomic_path(out_dir / "LICENSE.md") as tmp:
        tmp.write_bytes(licence)
    manifest = {"wheel": WHEEL, "wheel_sha256": WHEEL_SHA256, "models": {}}
    for model in MODELS:
        state = state_dict_from_tf(read_checkpoint(f"{out_dir / 'tf' / model}/"))
        path = out_dir / f"{model}.pt"
        with atomic_path(path) as tmp:
            torch.save({"state_dict": state, "tags": tags[model], "model": model}, tmp)
        manifest["models"][model] = {"file": path.name, "sha256": sha256_file(path)}
    write_json(out_dir / MANIFEST, manifest)  # written last: its presence means setup finished
    return manifest


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", required=True, help=f"path of the downloaded {WHEEL}")
    parser.add_argument("--out", required=True, help="output folder (resources/musicnn)")
    args = parser.parse_args(argv)
    manifest = convert_wheel(args.wheel, args.out)
    print(json.dumps(manifest, indent=2))


if __name__ == "__main__":
    main()
