"""The PyTorch musicnn port against the original graph's outputs (shared/reference/musicnn)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import soxr
from judge_helpers import REFERENCE, reference_files, require_weights

from fmagenre.judge import musicnn

FILES = [pytest.param(path, id=path.stem) for path in sorted(REFERENCE.glob("*.npz"))]
LAYER_RTOL = 1e-4  # intermediate layers: max abs diff within 1e-4 of the layer's largest value


def _net(model):
    return musicnn.load(model, require_weights(), "cpu")


def test_reference_outputs_are_present():
    assert len(reference_files()) == 6


@pytest.mark.parametrize("path", FILES)
def test_every_layer_matches_the_reference(path):
    model = path.name.split(".")[1]
    ref = np.load(path)
    out = musicnn.run_patches(_net(model)[0], ref["input_logmel"], layers=musicnn.LAYERS)
    np.testing.assert_allclose(out["taggram"], ref["taggram"], rtol=0, atol=1e-4)
    # Relative to each patch's embedding (elementwise relative error is meaningless near zero).
    error = np.linalg.norm(out["penultimate"] - ref["penultimate"], axis=1)
    assert np.all(error <= 1e-3 * np.linalg.norm(ref["penultimate"], axis=1))
    for layer in musicnn.LAYERS:
        expected = ref[layer].reshape(out[layer].shape)
        scale = np.abs(expected).max()
        assert np.abs(out[layer] - expected).max() <= LAYER_RTOL * scale, layer


@pytest.mark.parametrize("path", [p for p in FILES if "MSD" in p.values[0].name])
def test_logmel_from_the_wav_matches_the_reference(path):
    clip = path.name.split(".")[0]
    wav = REFERENCE / "clips" / f"{clip}.wav"
    ref = np.load(path)["input_logmel"]
    signal, sr = sf.read(wav, dtype="float32")
    ours = musicnn.patches(musicnn.logmel(signal, sr))
    assert ours.dtype == np.float32 and ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-3)
    assert np.isfinite(ours).all()


def test_tag_from_a_path_equals_tag_from_a_signal_and_matches_the_reference():
    require_weights()
    wav = REFERENCE / "clips" / "rock_like.wav"
    by_path = musicnn.tag(wav, "MSD_musicnn", device="cpu")
    signal, sr = sf.read(wav, dtype="float32")
    by_signal = musicnn.tag((signal, sr), "MSD_musicnn", device="cpu")
    assert by_path.shape == (3, 50) and list(by_path.columns[:3]) == ["rock", "pop", "alternative"]
    assert list(by_path.index) == pytest.approx([0.0, 2.992, 5.984])
    np.testing.assert_allclose(by_path.to_numpy(), by_signal.to_numpy(), atol=1e-6)
    ref = np.load(REFERENCE / "rock_like.MSD_musicnn.npz")["taggram"]
    np.testing.assert_allclose(by_path.to_numpy(), ref, atol=1e-4)


def test_stereo_44k_input_is_downmixed_and_resampled():
    require_weights()
    signal, sr = sf.read(REFERENCE / "clips" / "electronic_like.wav", dtype="float32")
    up = soxr.resample(signal, sr, 44100, quality="HQ")
    stereo = np.stack([up, up])
    tags = musicnn.tag((stereo, 44100), "MTT_musicnn", device="cpu")
    ref = np.load(REFERENCE / "electronic_like.MTT_musicnn.npz")["taggram"]
    assert np.abs(tags.to_numpy() - ref).max() < 0.05  # resampled twice: close, not identical


def test_embed_returns_the_penultimate_layer_and_pooled_layers_on_request():
    require_weights()
    wav = REFERENCE / "clips" / "sweep_silence.wav"
    ref = np.load(REFERENCE / "sweep_silence.MSD_musicnn.npz")
    penultimate = musicnn.embed(wav, device="cpu")
    assert penultimate.shape == (3, 200)
    layers = musicnn.embed(wav, layers=("mean_pool", "max_pool"), device="cpu")
    assert set(layers) == {"mean_pool", "max_pool"} and layers["max_pool"].shape == (3, 753)
    np.testing.assert_allclose(penultimate, ref["penultimate"], rtol=0, atol=1e-4)
    with pytest.raises(ValueError, match="unknown musicnn layers"):
        musicnn.embed(wav, layers=("conv9",), device="cpu")


def test_batches_give_the_same_result_as_one_batch():
    net = _net("MSD_musicnn")[0]
    x = np.load(REFERENCE / "rock_like.MSD_musicnn.npz")["input_logmel"]
    whole = musicnn.run_patches(net, x, layers=("taggram", "cnn3"))
    split = musicnn.run_patches(net, x, layers=("taggram", "cnn3"), batch_size=2)
    np.testing.assert_allclose(whole["taggram"], split["taggram"], atol=1e-6)
    assert split["cnn3"].shape == (3, 187, 64)


def test_patch_limit_keeps_the_central_patches():
    frames = np.arange(10 * 187 + 50, dtype=np.float32)[:, None].repeat(96, axis=1)
    all_patches = musicnn.patches(frames)
    assert all_patches.shape == (10, 187, 96)
    np.testing.assert_array_equal(musicnn.patches(frames, limit=3), all_patches[3:6])
    assert musicnn.patches(frames, limit=12).shape == (10, 187, 96)


def test_audio_shorter_than_a_patch_is_wrapped_to_fill_one():
    short = np.arange(100, dtype=np.float32)[:, None].repeat(96, axis=1)
    patch = musicnn.patches(short)
    assert patch.shape == (1, 187, 96)
    np.testing.assert_array_equal(patch[0, :100], short)
    np.testing.assert_array_equal(patch[0, 100:], short[:87])


def test_loud_audio_stays_finite():
    # The wheel's float16 log-mel overflows to inf on loud bins; ours is float32 throughout.
    t = np.arange(4 * 16000) / 16000
    loud = np.sin(2 * np.pi * 1000 * t).astype(np.float32)
    features = musicnn.logmel(loud, 16000)
    assert np.isfinite(features).all() and features.max() > np.log10(65504.0 + 1)


def test_short_audio_and_unknown_model_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="signal is empty"):
        musicnn.patches(np.zeros((0, 96), np.float32))
    with pytest.raises(ValueError, match="unknown musicnn model"):
        musicnn.load("MSD_vgg", require_weights())
    with pytest.raises(FileNotFoundError, match="make setup"):
        musicnn.load("MSD_musicnn", tmp_path)
