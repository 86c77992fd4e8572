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
  to input_range (e.g. (0, 16) for the 8x8 digits). A 16-bit greyscale image (PNG or TIFF "I;16") is read
  at its depth, as floats on the same scale (65535 maps to 255, then to the top of input_range); 32-bit
  integer and floating-point images are refused by name (their range is unknown).
* Note the polarity of the training data: MNIST-like sets are light strokes on a dark
  background. This module does not guess and invert; the caller decides.

Hostile files: zips are streamed under caps (`core.data.archive`); only the formats listed in
``PILLOW_FORMATS`` are opened (never EPS and the like, which Pillow hands to external
programs); an image's dimensions are checked before its pixels are decoded
(``MAX_IMAGE_PIXELS``: 4096x4096, about 64 MB as RGBA, far above any model's input here);
a file over ``MAX_IMAGE_FILE_BYTES`` is not read at all. `read_images` reports each bad file
and keeps the good ones; `images_from_files` raises for the first bad one.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any, Iterable

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from core.data.archive import OTHER_TYPE, ArchiveError, ZipLimits, is_zip, read_zip_members
from core.data.files import NotRegularFile, open_regular
from core.data.messages import Problem, plain

__all__ = ["images_from_files", "read_images", "image_files", "decode_image", "IMAGE_EXTENSIONS"]

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}
PILLOW_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP", "TIFF", "PPM")
MAX_IMAGE_PIXELS = 4096 * 4096
MAX_IMAGE_FILE_BYTES = 32 << 20


def _name_of(item: Any, i: int) -> str:
    if isinstance(item, (str, os.PathLike)):
        return Path(item).name
    if isinstance(item, tuple) and len(item) == 2:
        return Path(str(item[0])).name or f"image_{i}"
    name = getattr(item, "name", None)
    return Path(name).name if isinstance(name, str) and name else f"image_{i}"


def _source_of(item: Any, i: int) -> Path | bytes:
    """A path (read later, under the caps) or the bytes already in memory (an upload)."""
    if isinstance(item, (str, os.PathLike)):
        return Path(item)
    if isinstance(item, (bytes, bytearray, memoryview)):
        return bytes(item)
    if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], (bytes, bytearray, memoryview)):
        return bytes(item[1])
    if hasattr(item, "getvalue"):  # BytesIO, Streamlit's UploadedFile
        return bytes(item.getvalue())
    if hasattr(item, "read"):
        return bytes(item.read())
    raise TypeError(f"item {i}: expected a path, bytes, (name, bytes) or a file object, got {type(item).__name__}")


def _head(source: Path | bytes) -> bytes:
    if isinstance(source, bytes):
        return source[:4]
    with open_regular(source) as f:
        return f.read(4)


def _read_small(name: str, source: Path | bytes) -> bytes:
    """The bytes of one (non-archive) file, refusing one over the cap before reading it (and reading no more
    than the cap, should the file grow meanwhile)."""
    if isinstance(source, bytes):
        size = len(source)
    else:
        with open_regular(source) as f:
            size = os.fstat(f.fileno()).st_size
            data = f.read(MAX_IMAGE_FILE_BYTES + 1) if size <= MAX_IMAGE_FILE_BYTES else b""
            size = max(size, len(data))
    if size > MAX_IMAGE_FILE_BYTES:
        raise ValueError(f"{name}: {size:,} bytes; the cap per image file is {MAX_IMAGE_FILE_BYTES:,}")
    return source if isinstance(source, bytes) else data


def image_files(files: Iterable[Any], max_files: int = 10_000, limits: ZipLimits = ZipLimits()
                ) -> tuple[list[tuple[str, bytes]], list[Problem]]:
    """(name, bytes) of each input, zips replaced by their image members (streamed under `limits`), and the
    problems of the inputs that could not be read. Never raises for a file's content."""
    pairs: list[tuple[str, bytes]] = []
    problems: list[Problem] = []
    for i, item in enumerate(files):
        name = _name_of(item, i)
        try:
            source = _source_of(item, i)
            if is_zip(_head(source)):
                members, skipped = read_zip_members(source, name, IMAGE_EXTENSIONS, limits)
                problems += [Problem(label, reason) for label, reason in skipped]
                if not members and not skipped:
                    problems.append(Problem(name, "the zip archive holds no image files "
                                                  f"({', '.join(sorted(IMAGE_EXTENSIONS))})"))
                pairs += members
            else:
                pairs.append((name, _read_small(name, source)))
        except ArchiveError as e:
            problems.append(Problem(name, str(e).removeprefix(f"{name}: ")))
        except NotRegularFile as e:
            problems.append(Problem(name, str(e)))
        except OSError as e:
            problems.append(Problem(name, f"cannot read the file ({plain(e)})"))
        except ValueError as e:
            problems.append(Problem(name, str(e).removeprefix(f"{name}: ")))
        if len(pairs) > max_files:
            problems.append(Problem(name, f"more than {max_files:,} images in one batch; the rest is not read"))
            del pairs[max_files:]
            break
    return pairs, problems


_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N")
_REFUSED_MODES = {"I": "32-bit integer pixels", "F": "32-bit floating-point pixels"}


def _sixteen_bit(im: Image.Image, size: tuple[int, int], channels: int) -> np.ndarray:
    """A 16-bit greyscale image at its depth: float32 on the 0..255 scale (v / 257), resized as floats. Pillow's
    convert("L") clips 16-bit values at 255, turning almost every pixel white."""
    grey = Image.fromarray(np.asarray(im, dtype=np.float32) * np.float32(255 / 65535), mode="F")
    arr = np.clip(np.asarray(grey.resize((size[1], size[0]), Image.Resampling.LANCZOS)), 0, 255)
    return np.repeat(arr[None], channels, axis=0).astype(np.float32)


def decode_image(name: str, data: bytes, size: tuple[int, int], channels: int) -> np.ndarray:
    """One image as a (channels, height, width) array, uint8 (float32 on the same 0..255 scale for a 16-bit
    greyscale image, read at its depth); ValueError naming the file otherwise."""
    try:
        with Image.open(io.BytesIO(data), formats=PILLOW_FORMATS) as im:
            width, height = im.size
            if width * height > MAX_IMAGE_PIXELS:  # before a pixel is decoded
                raise ValueError(f"{name}: the image is {width}x{height} pixels; the cap is {MAX_IMAGE_PIXELS:,} "
                                 "pixels")
            im.load()
            im = ImageOps.exif_transpose(im)
            if im.mode in _REFUSED_MODES:
                raise ValueError(f"{name}: {_REFUSED_MODES[im.mode]}; this lab reads 8- and 16-bit images")
            if im.mode in _SIXTEEN_BIT:
                return _sixteen_bit(im, size, channels)
            if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                rgba = im.convert("RGBA")
                im = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                im.alpha_composite(rgba)
            im = im.convert("L" if channels == 1 else "RGB")
            im = im.resize((size[1], size[0]), Image.Resampling.LANCZOS)
            arr = np.asarray(im, dtype=np.uint8)
    except ValueError as e:
        if str(e).startswith(f"{name}: "):
            raise
        raise ValueError(f"{name}: not a readable image ({plain(e)})") from None
    except Image.DecompressionBombError:
        raise ValueError(f"{name}: the image is too large to decode safely") from None
    except UnidentifiedImageError:
        raise ValueError(f"{name}: not an image this lab reads ({', '.join(PILLOW_FORMATS)})") from None
    except Exception as e:  # noqa: BLE001: Pillow raises OSError, SyntaxError, struct.error, ... for bad files
        raise ValueError(f"{name}: not a readable image ({type(e).__name__}: {plain(e)})") from None
    return arr[None] if channels == 1 else arr.transpose(2, 0, 1)


def _check_target(size, channels) -> tuple[int, int]:
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, not {channels}")
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"size must be (height, width) with positive values, not {size}")
    return int(size[0]), int(size[1])


def _as_list(files: Any) -> list:
    single_pair = isinstance(files, tuple) and len(files) == 2 and isinstance(files[1], (bytes, bytearray))
    if single_pair or isinstance(files, (str, os.PathLike, bytes, bytearray, memoryview)) or hasattr(files, "read"):
        return [files]
    return list(files)


def read_images(files: Any, size: tuple[int, int], channels: int, input_range: tuple[float, float] = (0, 255),
                *, max_files: int = 10_000, limits: ZipLimits = ZipLimits()
                ) -> tuple[np.ndarray, list[str], list[Problem]]:
    """Like `images_from_files`, but per file: (X of the readable images, their names, a Problem for each
    file or archive member that could not be read). X has 0 rows when none could."""
    size = _check_target(size, channels)
    pairs, problems = image_files(_as_list(files), max_files, limits)
    arrays, names = [], []
    for name, data in pairs:
        try:
            arrays.append(decode_image(name, data, size, channels))
            names.append(name)
        except ValueError as e:
            problems.append(Problem(name, str(e).removeprefix(f"{name}: ")))
    X = np.stack(arrays) if arrays else np.zeros((0, channels, *size), np.uint8)
    lo, hi = float(input_range[0]), float(input_range[1])
    if (lo, hi) != (0.0, 255.0):
        X = (lo + X.astype(np.float32) * ((hi - lo) / 255.0)).astype(np.float32)
    return X, names, problems


def images_from_files(files: Any, size: tuple[int, int], channels: int,
                      input_range: tuple[float, float] = (0, 255), *, max_files: int = 10_000
                      ) -> tuple[np.ndarray, list[str]]:
    """Load images as a model-ready (N, C, H, W) array and return it with their names.

    `files`: one or a list of paths (str/Path), raw bytes, (name, bytes) pairs or file-like
    objects (e.g. Streamlit's UploadedFile); any of them may be a zip of images, which is
    replaced by its image members in name order. `size` = (height, width); `channels` 1 or
    3; `input_range` the model's raw input range (the Dataset's ``input_range``).
    Raises ValueError naming the file for the first one that is unreadable (`read_images`
    reports them all and keeps the good ones). A zip's files of another type (a README beside
    the images) are passed over here; `read_images` lists them.
    """
    X, names, problems = read_images(files, size, channels, input_range, max_files=max_files)
    problems = [p for p in problems if not p.reason.startswith(OTHER_TYPE)]
    if problems:
        raise ValueError(str(problems[0]))
    if not names:
        raise ValueError("no images given")
    return X, names
