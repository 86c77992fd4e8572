"""Hostile inputs (issue 11): checkpoint sidecars and weights, archives, images, tables; all generated here.

Each case says what the protection is; removing the protection makes its case fail (the memory cases measure
peak RSS in a subprocess, so pytest's own memory does not count).
"""
import json
import pickle
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.checkpoints.store import (CheckpointError, checkpoint_paths, delete_checkpoint, load_bytes_checkpoint,
                             load_checkpoint, read_meta, rename_checkpoint)
from core.checkpoints.manifest import list_folder, scan_folder, scan_folder_with_skips
from core.checkpoints.sidecar import MAX_PARAMETERS, network_budget, validate_sidecar
from core.method.config import make_config

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "checkpoints"


LEGACY = Path(__file__).resolve().parent / "fixtures" / "legacy_checkpoints"  # sidecars of earlier formats


def shipped(name: str) -> tuple[bytes, dict]:
    weights, sidecar = checkpoint_paths(SHIPPED / name)
    return weights.read_bytes(), json.loads(sidecar.read_text())


def _shipped_mnist_m3() -> str:
    """The shipped MNIST demo's 3-point model, whichever class the development partition chose."""
    return sorted(p.name.removesuffix(".safetensors") for p in SHIPPED.glob("mnist-c*-m3.safetensors"))[0]


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
    "another preset's weights": (lambda w: shipped(_shipped_mnist_m3())[0], "do not fit preset"),
    "a tabular preset's weights": (lambda w: (LEGACY / "thyroid-call-m3.safetensors").read_bytes(), "do not fit preset"),
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
from core.checkpoints.store import CheckpointError
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


def test_meta_measurements_are_remembered_on_disk_and_a_bad_memo_is_measured_again(tmp_path, monkeypatch):
    """The disk memo of the meta-device measurements (a cold lab server skips the meta device with it) gives what
    a fresh measurement gives; a malformed or hostile memo file is measured again, never trusted."""
    from core.checkpoints import sidecar
    from core.method import activations
    from core.method.config import make_config

    monkeypatch.setenv("MAESI_CACHE", str(tmp_path))
    cfg, shape = make_config("digits"), (1, 8, 8)
    fresh = sidecar._measure(cfg, shape)
    assert sidecar._measure_remembered(cfg, shape) == fresh
    path = sidecar._memo_path(cfg, shape)
    assert path.exists() and path.is_relative_to(tmp_path)
    assert sidecar._measure_remembered(cfg, shape) == fresh  # read back from the memo
    for bad in ('{"parameters": 1, "activations": 2, "tensors": {"w": [[-1], "float32"]}}', "[1, 2]", "{", "",
                '{"parameters": "many", "activations": 2, "tensors": {}}', '{"parameters": 1}'):
        path.write_text(bad)
        assert sidecar._measure_remembered(cfg, shape) == fresh
    # another config or shape is another memo
    assert sidecar._memo_path(make_config("digits", interpolation=2), shape) != path
    assert sidecar._memo_path(cfg, (1, 16, 16)) != path
    # the scoring budget's memo: the same value as a fresh count, and a hostile memo is counted again
    count = activations._measure(cfg, shape, 4)
    assert activations._measure_remembered(cfg, shape, 4) == count
    memos = list((tmp_path / "measurements" / "scoring_bytes").glob("*.json"))
    assert len(memos) == 1
    for bad in ("-5", '"1e99"', "1.5", "true"):
        memos[0].write_text(bad)
        assert activations._measure_remembered(cfg, shape, 4) == count
