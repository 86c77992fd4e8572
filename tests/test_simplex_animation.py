"""Edges in motion (app/simplex/animation.py, pure Pillow): the animated GIF has one frame per weight, the duration
and the loop asked for, starts on the first anchor's decode and ends on the second's; the PNG strip is k tiles wide
and one row per model. The decodes come from a shipped digits checkpoint through `readout.edge_frames` (core's
`MirroredAE.mix_latents` and `decode`)."""
import io
import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from app.shared import images  # noqa: E402
from app.simplex import animation  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINT = ROOT / "checkpoints" / "digits-c0-m3.safetensors"
RANGE = (0.0, 16.0)  # the digits' raw units


def synthetic(k: int, models: int = 2) -> list[np.ndarray]:
    """Per model, k (1, 8, 8) samples fading from dark to bright (model i a little brighter than model i - 1)."""
    t = np.linspace(0.0, 1.0, k)[:, None, None, None]
    return [np.clip(t * 16.0 + i, 0, 16) * np.ones((k, 1, 8, 8)) for i in range(models)]


def gif_frames(data: bytes) -> list[np.ndarray]:
    im = Image.open(io.BytesIO(data))
    out = []
    for j in range(im.n_frames):
        im.seek(j)
        out.append(np.asarray(im.convert("RGB"), dtype=np.int16))
    return out


def tile_of(frame: np.ndarray, box) -> np.ndarray:
    x0, y0, x1, y1 = box
    return frame[y0:y1, x0:x1, 0]


@pytest.mark.parametrize("k", [2, 7, 16])
def test_the_gif_has_one_frame_per_weight_with_the_duration_and_the_loop(k):
    W = animation.edge_weights(3, 0, 2, k)
    frames = animation.compose_frames(synthetic(k), ["first", "second"], [animation.weight_caption(w) for w in W],
                                      RANGE)
    data = animation.gif_bytes(frames, 150)
    im = Image.open(io.BytesIO(data))
    assert im.format == "GIF" and im.n_frames == k and im.is_animated
    assert im.info["loop"] == 0 and im.info["duration"] == 150
    for j in range(k):
        im.seek(j)
        assert im.info["duration"] == 150
        assert im.size == frames[0].size


def test_edge_weights_run_evenly_from_one_anchor_to_the_other():
    W = animation.edge_weights(3, 1, 2, 5)
    assert W.shape == (5, 3) and np.allclose(W.sum(axis=1), 1)
    assert W[0].tolist() == [0, 1, 0] and W[-1].tolist() == [0, 0, 1]
    assert np.allclose(np.diff(W[:, 2]), 0.25) and (W[:, 0] == 0).all()
    with pytest.raises(ValueError):
        animation.edge_weights(3, 1, 1, 5)
    with pytest.raises(ValueError):
        animation.edge_weights(2, 0, 1, 1)


def test_tiles_are_enlarged_with_nearest_neighbour_and_sit_where_tile_boxes_says():
    k = 4
    decoded = synthetic(k)
    frames = animation.compose_frames(decoded, ["a", "a much longer label"], ["x"] * k, RANGE)
    boxes = animation.tile_boxes(["a", "a much longer label"])
    for j, frame in enumerate(gif_frames(animation.gif_bytes(frames, 100))):
        for i, box in enumerate(boxes):
            tile = tile_of(frame, box)
            assert tile.shape == (animation.TILE, animation.TILE)
            expected = images.upscale(images.to_uint8_image(decoded[i][j], RANGE), animation.TILE)
            assert np.abs(tile - expected).max() <= 2


def test_the_strip_is_k_tiles_wide_and_one_row_per_model():
    k, models = 9, 3
    data = animation.strip_png(synthetic(k, models), ["m0", "m1", "m2"], [f"{t:.2f}" for t in np.linspace(0, 1, k)],
                               RANGE)
    im = Image.open(io.BytesIO(data))
    assert im.format == "PNG"
    assert im.width == animation.PAD + k * (animation.TILE + animation.PAD)
    row = animation.TEXT_H + animation.TILE + animation.PAD
    assert im.height == animation.PAD + models * row + animation.TEXT_H
    # the first row's last tile: model 0's last decode
    px = np.asarray(im.convert("L"), dtype=np.int16)
    x0, y0 = animation.PAD + (k - 1) * (animation.TILE + animation.PAD), animation.PAD + animation.TEXT_H
    expected = images.upscale(images.to_uint8_image(synthetic(k, models)[0][-1], RANGE), animation.TILE)
    assert np.abs(px[y0:y0 + animation.TILE, x0:x0 + animation.TILE] - expected).max() <= 1


def test_mismatched_inputs_are_refused():
    with pytest.raises(ValueError):
        animation.compose_frames(synthetic(3), ["only one label"], ["a", "b", "c"], RANGE)
    with pytest.raises(ValueError):
        animation.strip_png(synthetic(3), ["a", "b"], ["a", "b"], RANGE)
    with pytest.raises(ValueError):
        animation.gif_bytes([], 100)
    assert animation.edge_file_name(0, 2, "gif") == "maesi-edge-1-3.gif"


@pytest.mark.skipif(not CHECKPOINT.exists(), reason=f"{CHECKPOINT.name} is missing: train the shipped checkpoints")
def test_first_and_last_frames_show_the_two_anchors_decodes_of_a_real_model():
    import torch

    from core import MirroredAE
    from core.evaluation.protocols import split_for
    from app.simplex import readout

    torch.set_num_threads(1)
    model = MirroredAE.load(CHECKPOINT)
    X = split_for("digits", 0, 0).X_test[[3, 10, 20]]
    Z = model.encode(X)
    k = 6
    W, decoded = readout.edge_frames(model, Z, 0, 1, k)
    assert W.shape == (k, 3) and decoded.shape == (k,) + X.shape[1:]
    assert np.allclose(decoded[0], model.decode(Z[[0]])[0], atol=1e-5)  # weight 1 on anchor 1
    assert np.allclose(decoded[-1], model.decode(Z[[1]])[0], atol=1e-5)  # weight 1 on anchor 2
    frames = gif_frames(animation.gif_bytes(animation.compose_frames(
        [decoded], ["3-point simplex"], [animation.weight_caption(w) for w in W], RANGE), 80))
    assert len(frames) == k
    box = animation.tile_boxes(["3-point simplex"])[0]
    for frame, anchor in ((frames[0], 0), (frames[-1], 1)):
        want = images.upscale(images.to_uint8_image(model.decode(Z[[anchor]])[0], RANGE), animation.TILE)
        got = tile_of(frame, box)
        assert np.abs(got - want).max() <= 2
        assert abs(got.mean() - want.mean()) < 1 and abs(got.std() - want.std()) < 1
    # the two ends differ (two different digits' decodes), so the animation moves
    assert np.abs(tile_of(frames[0], box) - tile_of(frames[-1], box)).mean() > 5
