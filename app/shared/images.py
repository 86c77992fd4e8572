"""Images for the lab (pure: no Streamlit): raw samples to uint8 pictures, crisp enlargement, PNG bytes and
grids of samples (Fig. 4 style)."""
from __future__ import annotations

import io
import math
from typing import Sequence

import numpy as np


def to_uint8_image(x: np.ndarray, input_range=(0.0, 255.0)) -> np.ndarray:
    """One sample (C, H, W) (or (H, W)) in raw units to an (H, W) or (H, W, 3) uint8 image."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 3:
        x = x[0] if x.shape[0] == 1 else x.transpose(1, 2, 0)
    lo, hi = float(input_range[0]), float(input_range[1])
    return (np.clip((x - lo) / (hi - lo), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def upscale(img: np.ndarray, min_size: int = 96) -> np.ndarray:
    """Nearest-neighbour enlargement so that tiny images (8x8 digits) stay crisp in the browser."""
    f = max(1, int(math.ceil(min_size / max(img.shape[0], img.shape[1]))))
    return img.repeat(f, axis=0).repeat(f, axis=1) if f > 1 else img


def png_bytes(img: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return buf.getvalue()


def png_data_url(img: np.ndarray) -> str:
    import base64

    return "data:image/png;base64," + base64.b64encode(png_bytes(img)).decode()


def image_grid(rows: Sequence[Sequence[np.ndarray]], input_range, cell: int = 64, pad: int = 2,
               background: int = 255) -> np.ndarray:
    """Samples (C, H, W) arranged in rows (Fig. 4 style), each enlarged to about `cell` pixels; uint8 image."""
    rows = [list(r) for r in rows if len(r)]
    if not rows:
        return np.full((cell, cell), background, np.uint8)
    tiles = [[upscale(to_uint8_image(x, input_range), cell) for x in r] for r in rows]
    h, w = tiles[0][0].shape[:2]
    colour = tiles[0][0].ndim == 3
    ncols = max(len(r) for r in tiles)
    shape = (len(tiles) * (h + pad) + pad, ncols * (w + pad) + pad) + ((3,) if colour else ())
    out = np.full(shape, background, np.uint8)
    for i, r in enumerate(tiles):
        for j, t in enumerate(r):
            y0, x0 = pad + i * (h + pad), pad + j * (w + pad)
            out[y0:y0 + h, x0:x0 + w] = t
    return out


def triangle_mosaic(samples: Sequence[np.ndarray], per_edge: int, input_range, cell: int = 40, pad: int = 2,
                    background: int = 255) -> tuple[np.ndarray, np.ndarray]:
    """Samples (C, H, W) in the order of `app.simplex.weights.triangle_weights(per_edge)` laid out as a triangle:
    row r holds r + 1 tiles, centred, so each tile sits where its weights fall on the ternary plot. Returns the
    uint8 image and the (K, 2) pixel centres (x, y) of the tiles, in the same order (for click targets)."""
    tiles = [upscale(to_uint8_image(x, input_range), cell) for x in samples]
    expected = per_edge * (per_edge + 1) // 2
    if len(tiles) != expected:
        raise ValueError(f"a triangle with {per_edge} per edge has {expected} tiles, got {len(tiles)}")
    h, w = tiles[0].shape[:2]
    step_x, step_y = w + pad, h + pad
    shape = (per_edge * step_y + pad, per_edge * step_x + pad) + tiles[0].shape[2:]
    out = np.full(shape, background, np.uint8)
    centres, k = [], 0
    for r in range(per_edge):
        x_start = pad + (per_edge - 1 - r) * step_x / 2  # half a tile further left per row: a triangle
        for j in range(r + 1):
            x0, y0 = int(round(x_start + j * step_x)), pad + r * step_y
            out[y0:y0 + h, x0:x0 + w] = tiles[k]
            centres.append((x0 + w / 2, y0 + h / 2))
            k += 1
    return out, np.array(centres)
