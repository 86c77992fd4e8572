"""Hostile inputs (issue 11): checkpoint sidecars and weights, archives, images, tables; all generated here.

Each case says what the protection is; removing the protection makes its case fail (the memory cases measure
peak RSS in a subprocess, so pytest's own memory does not count).
"""
import csv
import io
import json
import os
import pickle
import re
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.checkpoint import (CheckpointError, checkpoint_paths, delete_checkpoint, load_bytes_checkpoint,
                             load_checkpoint, read_meta, rename_checkpoint)
from core.data.archive import ArchiveError, ZipLimits, _read_capped, read_zip_members
from core.data.images import images_from_files, read_images
from core.data.readers import read_samples
from core.data.tables import scores_csv
from core.manifest import list_folder, scan_folder, scan_folder_with_skips
from core.sidecar import MAX_PARAMETERS, network_budget, validate_sidecar
from core.config import make_config

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "checkpoints"
GIB = 1 << 30


def shipped(name: str) -> tuple[bytes, dict]:
    weights, sidecar = checkpoint_paths(SHIPPED / name)
    return weights.read_bytes(), json.loads(sidecar.read_text())


@pytest.fixture(scope="module")
def digits():
    return shipped("digits-c0-m3")


def one_line_without_paths(message: str, *folders: Path) -> None:
    assert "\n" not in message and " at 0x" not in message
    for folder in folders:
        assert str(folder) not in message


# ---------------------------------------------------------------- sidecars (the upload path)

def _set(path: str, value):
    def mutate(meta):
        *parents, last = path.split(".")
        target = meta
        for p in parents:
            target = target[p]
        target[last] = value
    return mutate


def _drop(key):
    return lambda meta: meta.pop(key)


SIDECAR_CASES = {
    "interpolation as a list": (_set("config.interpolation", [3]), "interpolation"),
    "interpolation 1": (_set("config.interpolation", 1), "interpolation"),
    "config as a string": (_set("config", "digits"), "config must be an object"),
    "config without arch": (lambda m: m["config"].pop("arch"), "lacks 'arch'"),
    "config with an unknown field": (_set("config.turbo", True), "turbo"),
    "config lr as text": (_set("config.opt_encoder.lr", "fast"), "opt_encoder.lr"),
    "config epochs 0": (_set("config.epochs", 0), "epochs"),
    "config unknown preset": (_set("config.preset", "gpt"), "unknown preset"),
    "config negative width": (_set("config.arch.dense", -5), "widths"),
    "config input_range null on an image preset": (_set("config.input_range", None), "input_range"),
    "weights_file manifest": (_set("weights_file", "manifest.safetensors"), "manifest"),
    "weights_file climbing out": (_set("weights_file", "../../evil.safetensors"), "weights_file"),
    "weights_file not safetensors": (_set("weights_file", "model.pt"), "weights_file"),
    "weights_file missing": (_drop("weights_file"), "weights_file"),
    "threshold text": (_set("threshold", "abc"), "threshold"),
    "threshold NaN": (_set("threshold", float("nan")), "threshold"),
    "input_shape 2-D": (_set("input_shape", [8, 8]), "input_shape"),
    "input_shape text": (_set("input_shape", ["1", 8, 8]), "input_shape"),
    "input_shape zero": (_set("input_shape", [0, 8, 8]), "positive"),
    "input_shape booleans": (_set("input_shape", [True, 8, 8]), "input_shape"),
    "input_shape 400x400": (_set("input_shape", [1, 400, 400]), "parameters"),
    "input_shape 400000x400000": (_set("input_shape", [1, 400000, 400000]), "cap"),
    "input_shape of a table": (_set("input_shape", [64]), "takes images"),
    "scaler minmax on images": (_set("scaler", {"kind": "minmax", "low": [0], "high": [1]}), "scaler"),
    "scaler range off": (_set("scaler", {"kind": "affine", "low": 0, "high": 255}), "input_range"),
    "scaler missing": (_drop("scaler"), "scaler"),
    "format newer": (_set("format_version", 99), "newer"),
    "format foreign": (_set("format", "other-tool"), "not a maesi checkpoint"),
    "metrics auc text": (_set("metrics", {"auc": "great"}), "metrics"),
    "history of strings": (_set("history", {"loss": ["a"]}), "history"),
    "training_status unknown": (_set("training_status", "hacked"), "training_status"),
    "anomaly_class list": (_set("anomaly_class", [0]), "anomaly_class"),
    "dataset with a slash": (_set("dataset", "../digits"), "dataset"),
    "sha256 not hex": (_set("weights_sha256", "xyz"), "weights_sha256"),
    "sha256 of other bytes": (_set("weights_sha256", "0" * 64), "sha256"),
}


@pytest.mark.parametrize("case", sorted(SIDECAR_CASES))
def test_a_bad_sidecar_is_refused_and_nothing_is_stored(case, digits, tmp_path):
    weights, meta = digits
    mutate, match = SIDECAR_CASES[case]
    meta = json.loads(json.dumps(meta))
    mutate(meta)
    runs = tmp_path / "runs"
    t = time.perf_counter()
    with pytest.raises(CheckpointError, match=match) as err:
        load_bytes_checkpoint(weights, json.dumps(meta).encode(), runs)
    assert time.perf_counter() - t < 5  # no network is built for real, however large the shape
    assert not runs.exists() or not any(runs.iterdir())
    one_line_without_paths(str(err.value), tmp_path, REPO)


def test_extra_well_typed_keys_are_tolerated_and_a_good_upload_loads(digits, tmp_path):
    from core import MirroredAE

    weights, meta = digits
    meta = dict(meta, health={"finite": True}, notes="from a newer writer", threshold=None)
    validate_sidecar(meta)
    stored = load_bytes_checkpoint(weights, json.dumps(dict(meta, threshold=1.5)).encode(), tmp_path / "runs")
    assert MirroredAE.load(stored, device="cpu").input_shape_ == (1, 8, 8)
    assert read_meta(stored)["weights_file"] == stored.name
    no_threshold = load_bytes_checkpoint(weights, json.dumps(meta).encode(), tmp_path / "runs")
    assert MirroredAE.load(no_threshold, device="cpu").threshold_ == float("inf")  # null: nothing is flagged


def test_sidecar_json_bombs(digits, tmp_path):
    weights, _ = digits
    for blob, match in ((b"{not json", "not valid JSON"), (b"[1, 2]", "not an object"),
                        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
                        (b'{"a": "' + b"x" * (5 << 20) + b'"}', "cap")):
        with pytest.raises(CheckpointError, match=match):
            load_bytes_checkpoint(weights, blob, tmp_path / "runs")
    assert not (tmp_path / "runs").exists()


# ---------------------------------------------------------------- weights files

def _header_blob(header: dict, data: bytes) -> bytes:
    head = json.dumps(header).encode()
    return struct.pack("<Q", len(head)) + head + data


WEIGHTS_CASES = {
    "truncated": (lambda w: w[: len(w) // 2], "truncated"),
    "trailing bytes": (lambda w: w + b"\x00" * 64, "trailing"),
    "pickle renamed .safetensors": (lambda w: pickle.dumps({"a": 1}), "not a readable safetensors"),
    "empty": (lambda w: b"", "too short"),
    "header length of 2^60": (lambda w: struct.pack("<Q", 1 << 60) + w[8:], "header length"),
    "header not JSON": (lambda w: struct.pack("<Q", 4) + b"\xff\xfe\x00\x01" + w[12:], "not JSON"),
    "foreign tensors": (lambda w: _header_blob({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}},
                                               b"\x00" * 8), "do not fit preset"),
    "overlapping ranges": (lambda w: _header_blob({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                                   "y": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}},
                                                  b"\x00" * 12), "overlap"),
    "another preset's weights": (lambda w: shipped("mnist-c1-m3")[0], "do not fit preset"),
    "a tabular preset's weights": (lambda w: shipped("thyroid-call-m3")[0], "do not fit preset"),
}


@pytest.mark.parametrize("case", sorted(WEIGHTS_CASES))
def test_bad_weights_are_refused_before_loading(case, digits, tmp_path):
    weights, meta = digits
    make, match = WEIGHTS_CASES[case]
    meta = {k: v for k, v in meta.items() if k != "weights_sha256"}  # so that the header check itself is seen
    with pytest.raises(CheckpointError, match=match) as err:
        load_bytes_checkpoint(make(weights), json.dumps(meta).encode(), tmp_path / "runs")
    assert not (tmp_path / "runs").exists()
    one_line_without_paths(str(err.value), tmp_path)
    # The same pair written by hand into a folder is refused on reading, and the folder still lists.
    folder = tmp_path / "copied"
    folder.mkdir()
    (folder / "bad.safetensors").write_bytes(make(weights))
    (folder / "bad.json").write_text(json.dumps(dict(meta, weights_file="bad.safetensors")))
    with pytest.raises(CheckpointError, match=match):
        load_checkpoint(folder / "bad")


# ---------------------------------------------------------------- the runs folder and the Models page helpers

def test_one_bad_run_never_breaks_the_listing(digits, tmp_path):
    weights, meta = digits
    runs = tmp_path / "runs"
    good = load_bytes_checkpoint(weights, json.dumps(meta).encode(), runs)
    (runs / "bad.safetensors").write_bytes(weights)
    (runs / "bad.json").write_text(json.dumps(dict(meta, config=dict(meta["config"], interpolation=[3]))))
    (runs / "text.safetensors").write_bytes(weights)
    (runs / "text.json").write_text(json.dumps(dict(meta, config="digits")))
    (runs / "lonely.json").write_text("{}")
    (runs / "junk.safetensors").write_bytes(b"\x80\x04junk")
    entries, skipped = scan_folder_with_skips(runs)
    assert [e["name"] for e in entries] == [good.stem]
    reasons = dict(skipped)
    assert set(reasons) == {"bad.safetensors", "text.safetensors", "lonely.json", "junk.safetensors"}
    assert "interpolation" in reasons["bad.safetensors"] and "without its weights" in reasons["lonely.json"]
    assert all(isinstance(e["interpolation"], (int, str)) for e in entries)
    assert scan_folder(runs) == entries
    for reason in reasons.values():
        one_line_without_paths(reason, tmp_path)
    (runs / "manifest.json").write_text("{")  # a broken index hides nothing either
    listed, skipped = list_folder(runs)
    assert [e["name"] for e in listed] == [good.stem] and ("manifest.json" in dict(skipped))
    (runs / "manifest.json").write_text(json.dumps({"format": "maesi-manifest", "checkpoints": [
        {"name": "x", "path": "../../outside.safetensors", "interpolation": 3},
        {"name": "y", "path": "bad.safetensors", "interpolation": [3]}]}))
    listed, skipped = list_folder(runs)
    assert [e["name"] for e in listed] == [good.stem]
    assert any(f == "bad.safetensors" and "malformed" in r for f, r in skipped)


def test_shipped_checkpoints_all_pass_the_schema():
    entries, skipped = scan_folder_with_skips(SHIPPED)
    assert skipped == [] and len(entries) == len(list(SHIPPED.glob("*.safetensors")))


def test_delete_and_rename_are_safe(digits, tmp_path):
    from core import MirroredAE

    weights, meta = digits
    runs = tmp_path / "runs"
    a = load_bytes_checkpoint(weights, json.dumps(meta).encode(), runs)
    b = load_bytes_checkpoint(weights, json.dumps(meta).encode(), runs)
    assert a != b  # a second upload never overwrites the first
    for bad in ("../escape", "manifest", "with space", ".hidden", "a/b", ""):
        with pytest.raises(CheckpointError):
            rename_checkpoint(a, bad, root=runs)
    with pytest.raises(CheckpointError, match="already exists"):
        rename_checkpoint(a, b.stem, root=runs)
    renamed = rename_checkpoint(a, "my-run_1", root=runs)
    assert not a.exists() and not checkpoint_paths(a)[1].exists()
    assert read_meta(renamed)["weights_file"] == "my-run_1.safetensors"
    assert MirroredAE.load(renamed, device="cpu").input_shape_ == (1, 8, 8)
    with pytest.raises(CheckpointError, match="runs folder"):
        delete_checkpoint(SHIPPED / "digits-c0-m3", root=runs)
    with pytest.raises(CheckpointError):
        delete_checkpoint(runs / "manifest", root=runs)
    assert sorted(delete_checkpoint(renamed, root=runs)) == ["my-run_1.json", "my-run_1.safetensors"]
    (runs / "broken.json").write_text("{")  # a broken run can be deleted too
    assert delete_checkpoint(runs / "broken", root=runs) == ["broken.json"]
    assert [p.name for p in runs.iterdir()] and all(p.stem == b.stem for p in runs.iterdir())


def test_the_budget_admits_every_preset_and_refuses_what_it_says():
    for preset, shape in (("mnist", (1, 28, 28)), ("cifar10", (3, 32, 32)), ("cifar10", (3, 128, 128)),
                          ("kdd99", (118,)), ("arrhythmia", (274,))):
        budget = network_budget(make_config(preset, interpolation=3), shape)
        assert 0 < budget.parameters <= MAX_PARAMETERS and budget.activations > 0
    with pytest.raises(ValueError, match="parameters"):
        network_budget(make_config("cifar10"), (3, 192, 192))
    with pytest.raises(ValueError, match="activations"):  # 38 M parameters, under their cap; 128.3 M activations
        network_budget(make_config("cifar10", interpolation=3), (3, 176, 176))


HUGE_SHAPE_SCRIPT = """
import json, re, sys
sys.path.insert(0, sys.argv[1])
from core import MirroredAE
from core.checkpoint import CheckpointError
def hwm():
    return int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read()).group(1)) // 1024
before = hwm()
try:
    MirroredAE.load(sys.argv[2], device="cpu")
    print("loaded")
except CheckpointError as e:
    print(json.dumps({"before": before, "after": hwm(), "error": str(e)}))
"""


def test_a_huge_sidecar_shape_allocates_nothing(digits, tmp_path):
    """[1, 400, 400] used to cost +2 GB on every selection: the networks were built before any check."""
    weights, meta = digits
    (tmp_path / "big.safetensors").write_bytes(weights)
    (tmp_path / "big.json").write_text(json.dumps(dict(meta, input_shape=[1, 400, 400])))
    out = subprocess.run([sys.executable, "-c", HUGE_SHAPE_SCRIPT, str(REPO), str(tmp_path / "big")],
                         capture_output=True, text=True, timeout=120)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert "parameters" in result["error"]
    assert result["after"] - result["before"] < 100, result  # MB


# ---------------------------------------------------------------- archives

@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    """A zip holding one 1 GiB member of zeros named a.png (about 1 MB), written as a stream."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.zip"
    chunk = bytes(1 << 20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        with zf.open("a.png", "w", force_zip64=True) as member:
            for _ in range(1024):
                member.write(chunk)
    return path


def test_a_zip_bomb_member_is_skipped_on_its_header(bomb, monkeypatch):
    opened = []
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda self, *a, **k: opened.append(a) or 1 / 0)
    members, skipped = read_zip_members(bomb, "bomb.zip", {".png"})
    assert members == [] and not opened
    assert skipped[0][0] == "bomb.zip/a.png" and "1,024 MiB" in skipped[0][1] and "cap" in skipped[0][1]


MEMORY_SCRIPT = """
import re, sys, types
pkg = types.ModuleType("core"); pkg.__path__ = [sys.argv[1] + "/core"]; sys.modules["core"] = pkg
from core.data.readers import read_samples
X, names, problems = read_samples(sys.argv[2], (1, 8, 8), (0, 16))
print(len(X), "|".join(str(p) for p in problems))
print(int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read()).group(1)) // 1024)
"""


def test_reading_a_zip_bomb_keeps_peak_memory_small(bomb):
    out = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, str(REPO), str(bomb)], capture_output=True,
                         text=True, timeout=120)
    lines = out.stdout.strip().splitlines()
    assert lines, out.stderr[-2000:]
    count, problems = lines[0].split(" ", 1)
    assert count == "0" and "bomb.zip/a.png" in problems and "cap" in problems
    assert int(lines[1]) < 300, f"peak RSS {lines[1]} MB"


def _zip(members: dict, **kw) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, **kw) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def png(size=(8, 8), value=128) -> bytes:
    buf = io.BytesIO()
    Image.new("L", size, value).save(buf, format="PNG")
    return buf.getvalue()


def test_archive_caps_on_total_and_count():
    three = _zip({f"{i}.png": os.urandom(900_000) for i in range(3)})
    limits = ZipLimits(member_bytes=1 << 20, total_bytes=2 << 20)
    with pytest.raises(ArchiveError, match="uncompressed; the cap"):
        read_zip_members(three, "three.zip", {".png"}, limits)
    many = _zip({f"{i}.png": b"" for i in range(10_001)}, compresslevel=1)
    t = time.perf_counter()
    with pytest.raises(ArchiveError, match="10,001 entries"):
        read_zip_members(many, "many.zip", {".png"})
    assert time.perf_counter() - t < 1  # refused from the end record, before the directory is parsed


def test_a_zip_whose_directory_claims_100_mib_is_refused_before_parsing():
    data = bytearray(_zip({"a.png": png()}))
    end = data.rfind(b"PK\x05\x06")
    data[end + 12: end + 16] = struct.pack("<L", 100 << 20)
    with pytest.raises(ArchiveError, match="directory"):
        read_zip_members(bytes(data), "dir.zip", {".png"})


def test_the_streaming_count_stops_at_the_cap_whatever_the_header_said():
    stream = io.BytesIO(bytes(10 << 20))
    assert _read_capped(stream, 1 << 20) is None and stream.tell() <= (1 << 20) + (1 << 20)
    assert _read_capped(io.BytesIO(b"abc"), 3) == b"abc"


def test_a_lying_size_header_gives_a_skipped_member_not_a_big_read():
    data = bytearray(_zip({"a.png": bytes(4 << 20), "b.png": png()}))
    central = data.find(b"PK\x01\x02")
    local = data.find(b"PK\x03\x04")
    data[central + 24: central + 28] = struct.pack("<L", 1000)  # claims 1000 bytes uncompressed
    data[local + 22: local + 26] = struct.pack("<L", 1000)
    members, skipped = read_zip_members(bytes(data), "liar.zip", {".png"}, ZipLimits(member_bytes=1 << 20))
    assert [m for m, _ in members] == ["liar.zip/b.png"]
    assert skipped[0][0] == "liar.zip/a.png" and "corrupt" in skipped[0][1]


def test_unsafe_encrypted_and_corrupt_members_are_skipped_one_by_one():
    data = bytearray(_zip({"../../etc/evil.png": png(), "/abs.png": png(), "ok.png": png(), "enc.png": png(),
                           "broken.png": os.urandom(5000)}))
    for sig, flag_at in ((b"PK\x01\x02", 8), (b"PK\x03\x04", 6)):  # mark enc.png encrypted
        at = -1
        while (at := data.find(sig, at + 1)) >= 0:
            name_len = struct.unpack("<H", data[at + (28 if sig == b"PK\x01\x02" else 26):][:2])[0]
            name_at = at + (46 if sig == b"PK\x01\x02" else 30)
            if data[name_at: name_at + name_len] == b"enc.png":
                data[at + flag_at] |= 1
    # corrupt broken.png's compressed bytes (its CRC will not match)
    local = data.find(b"broken.png") + len("broken.png")
    data[local + 100: local + 200] = bytes(100)
    members, skipped = read_zip_members(bytes(data), "mix.zip", {".png"})
    assert [m for m, _ in members] == ["mix.zip/ok.png"]
    reasons = dict(skipped)
    assert "unsafe" in reasons["mix.zip/../../etc/evil.png"] and "unsafe" in reasons["mix.zip//abs.png"]
    assert "encrypted" in reasons["mix.zip/enc.png"] and "corrupt" in reasons["mix.zip/broken.png"]


def test_a_corrupt_zip_is_reported_as_a_corrupt_archive(tmp_path):
    data = _zip({"a.png": png(), "b.png": png()})
    for bad in (data[: len(data) // 2], b"PK\x03\x04" + os.urandom(300)):
        with pytest.raises(ValueError, match="not a readable zip archive") as err:
            images_from_files([("photos.zip", bad)], size=(8, 8), channels=1)
        assert "not a readable image" not in str(err.value)
    (tmp_path / "photos.zip").write_bytes(data[:-30])
    X, names, problems = read_samples(tmp_path / "photos.zip", (1, 8, 8), (0, 16))
    assert len(X) == 0 and "not a readable zip archive" in problems[0].reason
    one_line_without_paths(str(problems[0]), tmp_path)


# ---------------------------------------------------------------- images

def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height (a decompression bomb's first step)."""
    data = bytearray(png((1, 1)))
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def test_image_bombs_and_huge_dimensions_are_refused_before_decoding():
    t = time.perf_counter()
    X, names, problems = read_images([("wide.png", png_claiming(5000, 5000)), ("bomb.png", png_claiming(10**5, 10**5)),
                                      ("fine.png", png())], size=(8, 8), channels=1)
    assert time.perf_counter() - t < 2 and names == ["fine.png"]
    reasons = {p.file: p.reason for p in problems}
    assert "5000x5000" in reasons["wide.png"] and "too large" in reasons["bomb.png"]


def test_non_images_get_a_plain_reason_and_eps_is_never_opened():
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\n"
    X, names, problems = read_images([("x.png", b"not an image"), ("x.eps.png", eps),
                                      ("p.png", pickle.dumps([1])), ("ok.png", png())], size=(8, 8), channels=1)
    assert names == ["ok.png"] and len(problems) == 3
    for p in problems:
        assert "not an image this lab reads" in p.reason and "0x" not in p.reason and "BytesIO" not in p.reason
    with pytest.raises(ValueError, match="x.png"):  # the strict wrapper still raises for the first bad file
        images_from_files([("x.png", b"junk"), ("ok.png", png())], size=(8, 8), channels=1)


# ---------------------------------------------------------------- tables and arrays

def _npy_claiming(shape) -> bytes:
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': %r, }" % (tuple(shape),)
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + bytes(64)


def _npy(array) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=True)
    return buf.getvalue()


NPY_CASES = {
    "header claiming 238 GiB": (_npy_claiming((10_647_523_329, 3)), r"238.0 GiB\); the cap"),
    "truncated": (_npy(np.ones((100, 3)))[:-80], "truncated"),
    "strings": (_npy(np.array([["a", "b", "c"]])), "text"),
    "bytes": (_npy(np.array([[b"a", b"b", b"c"]])), "bytes"),
    "complex": (_npy(np.ones((2, 3), complex)), "complex"),
    "objects": (_npy(np.array([{}, 1, None], dtype=object)), "Python objects"),
    "records": (_npy(np.zeros(2, dtype=[("a", "f4"), ("b", "f4"), ("c", "f4")])), "structured"),
    "dates": (_npy(np.array(["2020-01-01"] * 3, dtype="datetime64[D]")), "dates"),
    "empty": (_npy(np.zeros((0, 3))), "no samples"),
    "one number": (_npy(np.float64(3.0)), "single number"),
    "pickle renamed .npy": (pickle.dumps(np.ones((2, 3))), "not a .npy file"),
    "wrong width": (_npy(np.ones((2, 4))), r"shape \(samples, 3\)"),
}


@pytest.mark.parametrize("case", sorted(NPY_CASES))
def test_bad_npy_files_are_refused_from_their_header(case):
    data, match = NPY_CASES[case]
    t = time.perf_counter()
    X, names, problems = read_samples([("bad.npy", data), ("good.npy", _npy(np.ones((2, 3))))], (3,))
    assert time.perf_counter() - t < 2
    assert names == ["good.npy[0]", "good.npy[1]"] and X.dtype == np.float32
    assert len(problems) == 1 and problems[0].file == "bad.npy" and re.search(match, problems[0].reason)


def test_csv_header_detection_and_empty_tables():
    X, names, problems = read_samples([("plain.csv", b"1,2,3\n4,5,6\n")], (3,))
    assert names == ["plain.csv:1", "plain.csv:2"] and X[0].tolist() == [1, 2, 3] and not problems
    X, names, _ = read_samples([("named.csv", b"a,b,c\n1,2,3\n4,5,6\n")], (3,))
    assert names == ["named.csv:1", "named.csv:2"] and X[1].tolist() == [4, 5, 6]
    for data, match in ((b"a,b,c\n", "no data rows"), (b"", "empty"), (b"\n\n", "empty"),
                        (b"\x89PNG\r\n\x1a\n\x00\x00", "binary"), (b"x,1,2\ny,3,4\n", "column.*text")):
        X, names, problems = read_samples([("t.csv", data)], (3,))
        assert len(X) == 0 and re.search(match, problems[0].reason), problems


def test_csv_feature_names_pick_and_order_columns():
    data = b"id,c,a,b\nr1,3,1,2\nr2,6,4,5\n"
    X, _, problems = read_samples([("t.csv", data)], (3,), feature_names=["a", "b", "c"])
    assert X.tolist() == [[1, 2, 3], [4, 5, 6]]
    assert problems[0].level == "warning" and "'id'" in problems[0].reason


def test_non_finite_and_huge_values():
    data = b"a,b\n1,2\ninf,1\n3,nan\n1e38,1\n1e39,1\n4,x\n5,6\n"
    X, names, problems = read_samples([("v.csv", data)], (2,))
    assert names == ["v.csv:1", "v.csv:4", "v.csv:7"] and np.isfinite(X).all()
    text = " | ".join(f"{p.level}: {p.reason}" for p in problems)
    assert "row(s) 2, 3 hold NaN or infinite" in text and "row(s) 5 hold numbers beyond 32-bit" in text
    assert "row(s) 6: text" in text and "warning: row(s) 4 hold values larger than 1e+06" in text
    # with the training range known, "far" is relative to it
    X, _, problems = read_samples([("r.csv", b"0.5,0.5\n50,0.5\n")], (2,), ([0, 0], [1, 1]))
    assert len(X) == 2 and [p.level for p in problems] == ["warning"] and "row(s) 2" in problems[0].reason


def test_image_models_read_arrays_images_and_zips_and_warn_outside_the_range(tmp_path):
    folder = tmp_path / "batch"
    folder.mkdir()
    np.save(folder / "a.npy", np.full((2, 8, 8), 20.0))  # (N, H, W) for a 1-channel model; above 16
    (folder / "b.png").write_bytes(png())
    (folder / "c.zip").write_bytes(_zip({"d.png": png(), "e.txt": b"notes"}))
    (folder / "f.png").write_bytes(b"broken")
    (folder / "g.csv").write_text(",".join(["1"] * 64) + "\n")
    (folder / "notes.md").write_text("hello")
    X, names, problems = read_samples(folder, (1, 8, 8), (0, 16))
    assert names == ["a.npy[0]", "a.npy[1]", "b.png", "c.zip/d.png", "g.csv:1"] and X.shape == (5, 1, 8, 8)
    assert 0 < X[2].max() <= 16
    levels = {p.file: p.level for p in problems}
    assert levels == {"a.npy": "warning", "f.png": "error", "notes.md": "error"}
    for p in problems:
        one_line_without_paths(str(p), tmp_path)


def test_a_tabular_model_given_an_image_says_so():
    X, names, problems = read_samples([("photo.png", png())], (6,))
    assert len(X) == 0 and "tabular" in problems[0].reason


# ---------------------------------------------------------------- output

def test_scores_csv_quotes_what_needs_quoting():
    names = ["plain", "with,comma", 'with "quotes"', "with\nnewline", "=cmd()"]
    text = scores_csv(names, [1.0, 2.5, float("inf"), 0.125, 3], [1, 0, 1, None, 0])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["name", "score", "label"]
    assert [r[0] for r in rows[1:]] == names and rows[3][1] == "inf" and rows[4][2] == ""


# ---------------------------------------------------------------- the same cases through the app's Score page path

class _Uploaded(io.BytesIO):
    """What Streamlit's file_uploader hands the Score page: bytes with a name."""

    def __init__(self, name, data):
        super().__init__(data)
        self.name = name


def _stub_model(shape, input_range=None):
    """What app.score_input.read_uploads reads of a model: its input shape, pixel range and scaler kind."""
    from types import SimpleNamespace

    return SimpleNamespace(input_shape_=shape, config_=SimpleNamespace(input_range=input_range),
                           scaler_=SimpleNamespace(kind="zscore"))


@pytest.mark.parametrize("case", sorted(NPY_CASES))
def test_the_app_reads_the_bad_npy_cases_through_the_same_reader(case):
    from app.score_input import problem_list, read_uploads

    data, match = NPY_CASES[case]
    X, names, problems, _ = read_uploads([_Uploaded("bad.npy", data), _Uploaded("good.npy", _npy(np.ones((2, 3))))],
                                         _stub_model((3,)))
    assert names == ["good.npy[0]", "good.npy[1]"]
    assert len(problems) == 1 and re.search(match, problems[0].reason)
    one_line_without_paths(problem_list(problems, "error"))


def test_the_app_reads_hostile_images_and_archives_through_the_same_reader(bomb):
    from app.score_input import problem_list, read_uploads

    files = [_Uploaded("bomb.zip", bomb.read_bytes()), _Uploaded("wide.png", png_claiming(5000, 5000)),
             _Uploaded("x.png", b"not an image"), _Uploaded("p.png", pickle.dumps([1])),
             _Uploaded("corrupt.zip", b"PK\x03\x04" + bytes(40)), _Uploaded("ok.png", png())]
    t = time.perf_counter()
    X, names, problems, _ = read_uploads(files, _stub_model((1, 8, 8), (0, 16)), polarity="auto")
    assert time.perf_counter() - t < 10 and names == ["ok.png"] and X.shape == (1, 1, 8, 8)
    listed = problem_list(problems, "error")
    for name in ("bomb.zip", "wide.png", "x.png", "p.png", "corrupt.zip"):
        assert f"`{name}" in listed, listed
    one_line_without_paths(listed.replace("\n", " "))
