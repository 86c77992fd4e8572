"""Turn user-supplied image files into model input: ``images_from_files``.

The app lets users upload their own images (PNG/JPEG/..., one by one or as a zip) to score
them with a trained model. The model expects exactly what its training data looked like:
(N, C, H, W) arrays in the dataset's raw input range. This module does only that conversion;
no normalisation (the model maps its input range to [-1, 1] itself).

Choices, stated once:
* size is (height, width), like the array's H, W (Pillow's own order is (width, height)).
* Images are stretched to the size (no crop, no padding), after applying the EXIF rotation.
* channels=1 converts to Pillow's "L" grey; channels=3 to "RGB". Transparent pixels are
  composited onto white (how viewers show them) rather than taking whatever colour hides
  under alpha 0.
* Values: uint8 when input_range is (0, 255); otherwise float32 linearly mapped from 0..255
  to input_range (e.g. (0, 16) for the 8x8 digits).
* Note the polarity of the training data: MNIST-like sets are light strokes on a dark
  background. This module does not guess and invert; the caller decides.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path
from typing import Any, Iterable

import numpy as np
from PIL import Image, ImageOps

__all__ = ["images_from_files", "IMAGE_EXTENSIONS"]

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}


def _read_item(item: Any, i: int) -> tuple[str, bytes]:
    """(name, bytes) of one input: a path, raw bytes, a (name, bytes) pair, or a file object."""
    if isinstance(item, (str, os.PathLike)):
        path = Path(item)
        try:
            return path.name, path.read_bytes()
        except OSError as e:
            raise ValueError(f"{path}: cannot read the file ({e.strerror or e})") from e
    if isinstance(item, (bytes, bytearray, memoryview)):
        return f"image_{i}", bytes(item)
    if isinstance(item, tuple) and len(item) == 2:
        return str(item[0]), bytes(item[1])
    if hasattr(item, "read") or hasattr(item, "getvalue"):  # open files, BytesIO, Streamlit UploadedFile
        data = item.getvalue() if hasattr(item, "getvalue") else item.read()
        return Path(str(getattr(item, "name", f"image_{i}"))).name, bytes(data)
    raise TypeError(f"item {i}: expected a path, bytes, (name, bytes) or a file object, got {type(item).__name__}")


def _expand(items: Iterable[Any], max_files: int) -> list[tuple[str, bytes]]:
    """Inputs as (name, bytes) pairs, with zip archives replaced by their image members."""
    out: list[tuple[str, bytes]] = []
    for i, item in enumerate(items):
        name, data = _read_item(item, i)
        if data[:4] == b"PK\x03\x04" and zipfile.is_zipfile(io.BytesIO(data)):
            try:
                with zipfile.ZipFile(io.BytesIO(data)) as zf:
                    members = sorted(m for m in zf.namelist()
                                     if not m.endswith("/") and "__MACOSX" not in m
                                     and not Path(m).name.startswith(".")
                                     and Path(m).suffix.lower() in IMAGE_EXTENSIONS)
                    if not members:
                        raise ValueError(f"{name}: the zip archive holds no image files "
                                         f"({', '.join(sorted(IMAGE_EXTENSIONS))})")
                    for m in members:
                        if len(out) > max_files:
                            break
                        out.append((f"{name}/{m}", zf.read(m)))
            except (zipfile.BadZipFile, OSError) as e:
                raise ValueError(f"{name}: cannot read the zip archive ({e})") from e
        else:
            out.append((name, data))
        if len(out) > max_files:
            raise ValueError(f"too many images (limit {max_files}); upload fewer at a time")
    return out


def _decode(name: str, data: bytes, size: tuple[int, int], channels: int) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            im = ImageOps.exif_transpose(im)
            if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                rgba = im.convert("RGBA")
                im = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                im.alpha_composite(rgba)
            im = im.convert("L" if channels == 1 else "RGB")
            im = im.resize((size[1], size[0]), Image.Resampling.LANCZOS)
            arr = np.asarray(im, dtype=np.uint8)
    except (Image.DecompressionBombError,) as e:
        raise ValueError(f"{name}: image too large to open safely ({e})") from e
    except Exception as e:  # Pillow raises UnidentifiedImageError, OSError, SyntaxError, ...
        raise ValueError(f"{name}: not a readable image ({type(e).__name__}: {e})") from e
    return arr[None] if channels == 1 else arr.transpose(2, 0, 1)


def images_from_files(files: Any, size: tuple[int, int], channels: int,
                      input_range: tuple[float, float] = (0, 255), *, max_files: int = 10_000
                      ) -> tuple[np.ndarray, list[str]]:
    """Load images as a model-ready (N, C, H, W) array and return it with their names.

    `files`: one or a list of paths (str/Path), raw bytes, (name, bytes) pairs or file-like
    objects (e.g. Streamlit's UploadedFile); any of them may be a zip of images, which is
    replaced by its image members in name order. `size` = (height, width); `channels` 1 or
    3; `input_range` the model's raw input range (the Dataset's ``input_range``).
    Raises ValueError naming the file for anything unreadable.
    """
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, not {channels}")
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"size must be (height, width) with positive values, not {size}")
    size = (int(size[0]), int(size[1]))
    single_pair = isinstance(files, tuple) and len(files) == 2 and isinstance(files[1], (bytes, bytearray))
    if single_pair or isinstance(files, (str, os.PathLike, bytes, bytearray, memoryview)) or hasattr(files, "read"):
        files = [files]
    pairs = _expand(files, max_files)
    if not pairs:
        raise ValueError("no images given")
    X = np.stack([_decode(name, data, size, channels) for name, data in pairs])
    lo, hi = float(input_range[0]), float(input_range[1])
    if (lo, hi) != (0.0, 255.0):
        X = (lo + X.astype(np.float32) * ((hi - lo) / 255.0)).astype(np.float32)
    return X, [name for name, _ in pairs]
