"""The one device resolver, and the CUDA paths of training (run only where CUDA is visible)."""

from __future__ import annotations

import pytest
import torch
from models_helpers import outputs, spec, write_packs

from fmagenre.data.loader import make_split, storage_device
from fmagenre.data.pack import read_packs
from fmagenre.device import resolve_device
from fmagenre.models.train import train_model

CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(
    not CUDA, reason="no CUDA device visible: the CUDA training paths are not exercised here"
)


def test_resolver_picks_cpu_or_cuda_and_refuses_what_is_not_there():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if CUDA else "cpu")
    with pytest.raises(ValueError, match="Fix: use one of"):
        resolve_device("tpu")
    if not CUDA:
        with pytest.raises(RuntimeError, match="no CUDA device is visible"):
            resolve_device("cuda")


@needs_cuda
def test_cuda_keeps_a_small_split_on_the_gpu(tmp_path):
    packs = read_packs(write_packs(tmp_path))
    train = packs["training"]
    split = make_split(train, train["mean"], train["std"], torch.device("cuda"))
    assert split.x.device.type == "cuda"
    assert storage_device(1 << 62, torch.device("cuda")) == torch.device("cpu")


@needs_cuda
@pytest.mark.parametrize("budget", [None, 0.01], ids=["in-memory", "streamed"])
def test_cuda_training_learns_like_cpu(tmp_path, budget):
    """bf16 autocast on CUDA is not bit-identical to the CPU, but learns the same easy task."""
    packs = write_packs(tmp_path / "packs")
    model = {**spec(epochs=3, lr=0.003), "memory_budget_mb": budget}
    cpu = train_model(packs, model, outputs(tmp_path / "cpu"))
    cuda = train_model(packs, {**model, "device": "cuda"}, outputs(tmp_path / "cuda"))
    assert cuda["test_accuracy"] > 0.5
    assert abs(cuda["test_accuracy"] - cpu["test_accuracy"]) <= 0.25
