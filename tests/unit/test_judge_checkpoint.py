"""The pure-Python TensorFlow checkpoint reader, on the real checkpoints of musicnn's wheel."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from judge_helpers import MODELS, require_weights

from fmagenre.judge.tf_checkpoint import CheckpointError, mask_crc, read_checkpoint, read_index
from fmagenre.judge.weights import convert_wheel

# Kernel shapes as the reference README lists them (TF layout [time, freq, in, out]; dense
# [in, out]).
KERNELS = {
    "conv2d": (7, 38, 1, 204),
    "conv2d_1": (7, 67, 1, 204),
    "conv2d_2": (128, 1, 1, 51),
    "conv2d_3": (64, 1, 1, 51),
    "conv2d_4": (32, 1, 1, 51),
    "conv2d_5": (7, 561, 1, 64),
    "conv2d_6": (7, 64, 1, 64),
    "conv2d_7": (7, 64, 1, 64),
    "dense": (1506, 200),
    "dense_1": (200, 50),
}
BATCH_NORMS = [1, 204, 204, 51, 51, 51, 64, 64, 64, 1506, 200]
BN_FIELDS = ("beta", "gamma", "moving_mean", "moving_variance")


def expected_variables() -> dict[str, tuple]:
    shapes = {"beta1_power": (), "beta2_power": ()}
    for layer, kernel in KERNELS.items():
        shapes[f"{layer}/kernel"] = kernel
        shapes[f"{layer}/bias"] = (kernel[-1],)
    for k, size in enumerate(BATCH_NORMS):
        name = "batch_normalization" + (f"_{k}" if k else "")
        shapes.update({f"{name}/{field}": (size,) for field in BN_FIELDS})
    return shapes


def prefix(model: str) -> str:
    return f"{require_weights() / 'tf' / model}/"


@pytest.mark.parametrize("model", MODELS)
def test_every_variable_has_the_listed_name_shape_and_dtype(model):
    tensors = read_checkpoint(prefix(model))
    assert {name: value.shape for name, value in tensors.items()} == expected_variables()
    assert all(value.dtype == np.float32 for value in tensors.values())
    assert np.all(tensors["batch_normalization_9/moving_variance"] > 0)


@pytest.mark.parametrize("model", MODELS)
def test_index_lists_adam_slots_of_every_trainable_variable(model):
    entries = read_index(prefix(model))
    trainable = [n for n in expected_variables() if n.endswith(("kernel", "bias", "beta", "gamma"))]
    assert set(entries) == set(expected_variables()) | {
        f"{name}/{slot}" for name in trainable for slot in ("Adam", "Adam_1")
    }
    assert entries["conv2d_5/kernel"].size == 7 * 561 * 64 * 4


def test_mask_crc_matches_leveldb():
    # LevelDB's crc32c unit test: Unmask(Mask(crc)) == crc and Mask(crc) != crc; masked value of 0.
    assert mask_crc(0) == 0xA282EAD8
    assert mask_crc(0xE3069283) != 0xE3069283


@pytest.fixture
def copied(tmp_path):
    source = prefix("MSD_musicnn")
    for name in (".index", ".data-00000-of-00001"):
        shutil.copy(f"{source}{name}", tmp_path / name)
    return tmp_path


def _flip(path, offset):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_corrupted_data_names_the_file_and_the_variable(copied):
    entry = read_index(f"{copied}/")["dense/kernel"]
    _flip(copied / ".data-00000-of-00001", entry.offset + 100)
    with pytest.raises(
        CheckpointError, match=r"data-00000-of-00001: variable 'dense/kernel'.*crc32c"
    ):
        read_checkpoint(f"{copied}/")


def test_corrupted_index_block_is_detected(copied):
    _flip(copied / ".index", 20)
    with pytest.raises(CheckpointError, match=r"\.index: block at byte 0 fails its crc32c"):
        read_index(f"{copied}/")


def test_truncated_files_give_a_clear_error(copied):
    index = copied / ".index"
    index.write_bytes(index.read_bytes()[:-10])
    with pytest.raises(CheckpointError, match=r"\.index: .*truncated"):
        read_index(f"{copied}/")


def test_truncated_data_file_is_detected(copied):
    data = copied / ".data-00000-of-00001"
    data.write_bytes(data.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match=r"data-00000-of-00001: variable .* truncated"):
        read_checkpoint(f"{copied}/")


def test_missing_index_names_the_file(tmp_path):
    with pytest.raises(CheckpointError, match=r"\.index: checkpoint index not found"):
        read_index(f"{tmp_path}/")


def test_setup_refuses_a_wheel_with_another_sha256(tmp_path):
    wheel = tmp_path / "musicnn-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"not the wheel")
    with pytest.raises(ValueError, match=r"musicnn-0.1.0-py3-none-any.whl: sha256 .* differs"):
        convert_wheel(wheel, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_setup_wrote_both_models_with_their_tag_lists():
    for model in MODELS:
        saved = torch.load(require_weights() / f"{model}.pt", weights_only=True)
        assert len(saved["tags"]) == 50 and saved["model"] == model
    msd = torch.load(require_weights() / "MSD_musicnn.pt", weights_only=True)["tags"]
    assert {"Hip-Hop", "60s", "00s", "easy listening"} <= set(msd)
