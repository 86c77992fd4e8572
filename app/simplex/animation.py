"""Edges in motion (pure: no Streamlit): the decodes of every compared model along an edge of the simplex, assembled
with Pillow into an animated GIF (one frame per weight, the models side by side, each labelled, the weights written
under them) and into a PNG strip (one row per model, one column per weight). The decodes come from
`app.simplex.readout.edge_frames`; this module only lays out pixels."""
from __future__ import annotations

import functools

import io
from typing import Sequence

import numpy as np

from app.shared.images import to_uint8_image, upscale

TILE = 96  # pixels of a decoded sample once enlarged (8x8 digits: 12x, nearest neighbour)
PAD = 4  # between tiles and around the picture
TEXT_H = 14  # one line of Pillow's default font
INK, PAPER = (0, 0, 0), (255, 255, 255)


def edge_weights(m: int, a: int, b: int, k: int) -> np.ndarray:
    """(k, m) evenly spaced weights from anchor a (weight 1) to anchor b (weight 1), zero on any other anchor."""
    if not (0 <= a < m and 0 <= b < m and a != b):
        raise ValueError(f"an edge joins two different anchors among {m}, got {a} and {b}")
    if k < 2:
        raise ValueError(f"an edge needs at least 2 frames, got {k}")
    t = np.linspace(0.0, 1.0, int(k))
    W = np.zeros((len(t), m))
    W[:, a], W[:, b] = 1.0 - t, t
    return W


def weight_caption(w) -> str:
    """The weights of one frame in plain ASCII (the default font's glyphs): "w = (0.75, 0.25, 0.00)"."""
    return "w = (" + ", ".join(f"{float(v):.2f}" for v in w) + ")"


@functools.cache
def _font():
    from PIL import ImageFont

    return ImageFont.load_default()


def _text_width(text: str) -> int:
    from PIL import Image, ImageDraw

    left, _, right, _ = ImageDraw.Draw(Image.new("RGB", (1, 1))).textbbox((0, 0), text, font=_font())
    return int(np.ceil(right - left))


def _tile(x: np.ndarray, input_range, tile: int):
    """One decoded sample as an RGB Pillow image of about `tile` pixels, enlarged with nearest neighbour."""
    from PIL import Image

    return Image.fromarray(upscale(to_uint8_image(x, input_range), tile)).convert("RGB")


def tile_boxes(labels: Sequence[str], tile: int = TILE) -> list[tuple[int, int, int, int]]:
    """Where each model's tile lies in a GIF frame, (left, top, right, bottom) in pixels: the models side by side,
    each column as wide as its tile or its label, the labels on the first line and the tiles under them."""
    boxes, x = [], PAD
    for label in labels:
        boxes.append((x, PAD + TEXT_H, x + tile, PAD + TEXT_H + tile))
        x += max(tile, _text_width(label)) + PAD
    return boxes


def compose_frames(decoded: Sequence[np.ndarray], labels: Sequence[str], captions: Sequence[str], input_range,
                   tile: int = TILE) -> list:
    """One RGB Pillow image per weight: `decoded[i]` (k, C, H, W) is model i's decodes along the edge; frame j shows
    every model's j-th decode with its label above and `captions[j]` (the weights) below."""
    from PIL import Image, ImageDraw

    k = len(captions)
    if len(decoded) != len(labels) or any(len(d) != k for d in decoded):
        raise ValueError(f"one label per model and {k} decodes per model, one per caption")
    tiles = [[_tile(x, input_range, tile) for x in d] for d in decoded]
    size = tiles[0][0].size
    boxes = tile_boxes(labels, size[0])
    width = max(boxes[-1][0] + max(size[0], _text_width(labels[-1])) + PAD,
                max(_text_width(c) for c in captions) + 2 * PAD)
    height = PAD + TEXT_H + size[1] + PAD + TEXT_H + PAD
    frames = []
    for j in range(k):
        frame = Image.new("RGB", (width, height), PAPER)
        draw = ImageDraw.Draw(frame)
        for i, (label, box) in enumerate(zip(labels, boxes)):
            draw.text((box[0], PAD), label, fill=INK, font=_font())
            frame.paste(tiles[i][j], box[:2])
        draw.text((PAD, PAD + TEXT_H + size[1] + PAD), captions[j], fill=INK, font=_font())
        frames.append(frame)
    return frames


def gif_bytes(frames: Sequence, duration_ms: int) -> bytes:
    """An animated GIF of the frames, `duration_ms` milliseconds each, looping for ever (loop=0). Every frame is
    kept (the captions differ from frame to frame, so Pillow merges none)."""
    if not frames:
        raise ValueError("an animation needs at least one frame")
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=list(frames[1:]), duration=int(duration_ms),
                   loop=0, optimize=False, disposal=1)
    return buf.getvalue()


def strip_png(decoded: Sequence[np.ndarray], labels: Sequence[str], column_captions: Sequence[str], input_range,
              tile: int = TILE) -> bytes:
    """A PNG of the whole edge at once: one row per model (its label above it), one column per weight, so the strip
    is k tiles wide; `column_captions[j]` (e.g. the second anchor's weight) under the last row."""
    from PIL import Image, ImageDraw

    k = len(column_captions)
    if len(decoded) != len(labels) or any(len(d) != k for d in decoded):
        raise ValueError(f"one label per model and {k} decodes per model, one per column caption")
    tiles = [[_tile(x, input_range, tile) for x in d] for d in decoded]
    w, h = tiles[0][0].size
    row_h = TEXT_H + h + PAD
    strip = Image.new("RGB", (PAD + k * (w + PAD), PAD + len(labels) * row_h + TEXT_H), PAPER)
    draw = ImageDraw.Draw(strip)
    for i, label in enumerate(labels):
        y = PAD + i * row_h
        draw.text((PAD, y), label, fill=INK, font=_font())
        for j, t in enumerate(tiles[i]):
            strip.paste(t, (PAD + j * (w + PAD), y + TEXT_H))
    for j, caption in enumerate(column_captions):
        draw.text((PAD + j * (w + PAD), PAD + len(labels) * row_h), caption, fill=INK, font=_font())
    buf = io.BytesIO()
    strip.save(buf, format="PNG")
    return buf.getvalue()


def edge_file_name(a: int, b: int, suffix: str) -> str:
    """The downloads' names, anchors counted from 1: maesi-edge-1-2.gif, maesi-edge-1-2.png."""
    return f"maesi-edge-{a + 1}-{b + 1}.{suffix}"
