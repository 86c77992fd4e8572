"""Budgets on every input path, checked before the memory is spent (issue 19, items 2 and 6): CSV cells, columns
and row bytes while streaming, .npy shapes from the header, and the scoring pass's memory per sample."""
import re
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from core.data import tables
from core.data.readers import read_samples
from core.method.activations import (DEFAULT_SCORE_MEMORY, SCORE_MEMORY_ENV, ScoringBudgetError, score_memory_ceiling,
                                     scoring_batch_size, scoring_bytes_per_sample)
from core.method.config import make_config

REPO = Path(__file__).resolve().parents[1]

# Reads one file in a fresh interpreter (the `core` package without its torch-importing __init__) and prints its
# peak resident memory in MB: the reader's cost, not the test process's.
PEAK_SCRIPT = """
import re, sys, types
pkg = types.ModuleType("core"); pkg.__path__ = [sys.argv[1] + "/core"]; sys.modules["core"] = pkg
from core.data.readers import read_samples
def hwm():
    return int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read()).group(1)) // 1024
base = hwm()
X, names, problems = read_samples(sys.argv[2], (int(sys.argv[3]),))
print(len(X), "|".join(str(p) for p in problems))
print(hwm() - base)
"""


def peak_of_reading(path: Path, features: int) -> tuple[int, str, int]:
    out = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, str(REPO), str(path), str(features)],
                         capture_output=True, text=True, timeout=300)
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 2, out.stderr[-2000:]
    count, problems = (lines[0].split(" ", 1) + [""])[:2]
    return int(count), problems, int(lines[1])


# ---------------------------------------------------------------- CSV: caps while streaming

def test_a_one_row_csv_of_millions_of_cells_is_refused_before_parsing(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_bytes(b"1," * 15_000_000 + b"1\n")  # 30 MB: the old reader reached 7.3 GB on it
    t = time.perf_counter()
    count, problems, peak = peak_of_reading(path, 6)
    assert count == 0 and "wide.csv" in problems and "MiB; the cap per row" in problems
    assert peak < 100, f"{peak} MB above the interpreter's own"
    assert time.perf_counter() - t < 60


def test_column_and_cell_caps_name_their_limit(monkeypatch):
    wide = b",".join([b"1"] * (tables.MAX_TABLE_COLUMNS + 5)) + b"\n"
    _, _, problems = read_samples([("wide.csv", wide), ("ok.csv", b"1,2\n")], (2,))
    assert [p.file for p in problems] == ["wide.csv"]
    assert f"the cap is {tables.MAX_TABLE_COLUMNS:,} columns" in problems[0].reason
    monkeypatch.setattr(tables, "MAX_TABLE_CELLS", 10)
    X, names, problems = read_samples([("long.csv", b"1,2\n" * 6), ("ok.csv", b"1,2\n")], (2,))
    assert names == ["ok.csv:1"] and "the cap per table is 10 cells" in problems[0].reason


def test_a_normal_csv_costs_about_its_numbers(tmp_path):
    """20 MB of ordinary rows: the numbers are 17 MB as float64; pandas on the whole text cost 6x the file."""
    rng = np.random.default_rng(0)
    path = tmp_path / "rows.csv"
    with open(path, "w") as f:
        for _ in range(18):
            f.write("\n".join(",".join(f"{v:.6f}" for v in row) for row in rng.random((2000, 64)) * 16) + "\n")
    size_mb = path.stat().st_size / 1e6
    count, problems, peak = peak_of_reading(path, 64)
    assert count == 36_000 and not problems
    assert peak < 2.5 * size_mb, f"peak {peak} MB for a {size_mb:.0f} MB file"


def test_streamed_csv_keeps_the_reader_rules():
    data = b"a,b,c\n1,2,3\n4,x,6\n7,8\n\n9,10,11,12\n13,14,15\n"
    X, names, problems = read_samples([("t.csv", data)], (3,))
    assert names == ["t.csv:1", "t.csv:5"] and X.tolist() == [[1, 2, 3], [13, 14, 15]]
    text = " | ".join(p.reason for p in problems)
    assert "row(s) 3, 4: not 3 cells like the first row" in text and "row(s) 2: text where a number" in text
    quoted = b'id,v\n"a,\nb",2.5\n"c",4\n'  # a quoted cell holding the delimiter and a newline: one cell
    X, names, problems = read_samples([("q.csv", quoted)], (1,), feature_names=["v"])
    assert X.tolist() == [[2.5], [4]] and names == ["q.csv:1", "q.csv:2"]
    X, _, _ = read_samples([("bom.csv", "\ufeffa,b\n1,2\n".encode())], (2,), feature_names=["a", "b"])
    assert X.tolist() == [[1, 2]]


# ---------------------------------------------------------------- .npy: the header, before the data

def _npy_with_shape(shape_text: str) -> bytes:
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': %s, }" % shape_text
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + bytes(64)


@pytest.mark.parametrize("shape, match", [
    ("(-1, 3)", "negative dimension"), ("(-2,)", "negative dimension"),
    ("(" + "9" * 4000 + ", 3)", r"about 10\^4000.*the cap"), ("(" + "9" * 5000 + ",)", "corrupt header"),
    ("(True, 3)", "other than integers"), ("(20000000, 3)", "the cap is"),
])
def test_a_hostile_npy_shape_is_a_per_file_error(shape, match):
    good = _npy_with_shape("(2, 3)")[:-64] + np.ones((2, 3)).tobytes()
    X, names, problems = read_samples([("bad.npy", _npy_with_shape(shape)), ("good.npy", good)], (3,))
    assert names == ["good.npy[0]", "good.npy[1]"]
    assert len(problems) == 1 and problems[0].file == "bad.npy" and re.search(match, problems[0].reason)
    assert len(str(problems[0])) < 300


def test_an_npy_of_many_small_values_is_capped_in_cells(monkeypatch):
    monkeypatch.setattr(tables, "MAX_TABLE_CELLS", 100)
    buf = __import__("io").BytesIO()
    np.save(buf, np.zeros((60, 2), np.uint8))  # 120 bytes of data: under the byte cap, over the cell cap
    _, _, problems = read_samples([("u8.npy", buf.getvalue())], (2,))
    assert "120 values); the cap is 100 values per array" in problems[0].reason


# ---------------------------------------------------------------- the scoring budget

def _allocated_peak(nets, x) -> int:
    """The most bytes PyTorch's CPU allocator held at once while scoring `x` (its profiler's memory events)."""
    from torch.profiler import ProfilerActivity, profile

    from core.method import scoring

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        scoring.anomaly_scores(nets, x, "feature", batch_size=len(x))
    results = getattr(prof.profiler, "kineto_results", None)
    if results is None:
        pytest.skip("this PyTorch's profiler gives no memory events")
    events = sorted((e for e in results.events() if e.name() == "[memory]"), key=lambda e: e.start_ns())
    live = peak = 0
    for e in events:
        live += e.nbytes()
        peak = max(peak, live)
    return peak


@pytest.mark.parametrize("preset, shape, n", [("digits", (1, 8, 8), 256), ("digits", (1, 28, 28), 64),
                                              ("cifar10_small", (3, 32, 32), 16)])
def test_the_scoring_count_is_within_1_5x_of_the_real_peak(preset, shape, n):
    import torch

    from core.method.networks import build_networks

    cfg = make_config(preset, interpolation=3)
    nets = build_networks(cfg, shape)
    # the cost of n more samples, over n: what does not grow with the batch (weights' copies) cancels
    real = (_allocated_peak(nets, torch.rand((2 * n, *shape))) - _allocated_peak(nets, torch.rand((n, *shape)))) / n
    counted = scoring_bytes_per_sample(cfg, shape)
    assert 1 / 1.5 < counted / real < 1.5, f"counted {counted / 1e6:.4f} MB, real {real / 1e6:.4f} MB per sample"


def test_the_batch_stays_under_the_ceiling_and_one_sample_over_it_is_refused():
    cfg = make_config("cifar10_small", interpolation=3)
    per_sample = scoring_bytes_per_sample(cfg, (3, 256, 256))
    assert 60e6 < per_sample < 200e6  # the checkpoint: about 83 MB measured per scored image
    batch = scoring_batch_size(cfg, (3, 256, 256), ceiling=1 << 30)
    assert batch * per_sample <= 1 << 30 < (batch + 1) * per_sample
    assert scoring_batch_size(make_config("digits"), (1, 8, 8), ceiling=1 << 30) == 1024  # capped
    with pytest.raises(ScoringBudgetError, match=r"needs about .* MiB; the scoring memory ceiling is 64 MiB"):
        scoring_batch_size(cfg, (3, 256, 256), ceiling=64 << 20)


def test_the_ceiling_comes_from_the_environment():
    assert score_memory_ceiling({}) == DEFAULT_SCORE_MEMORY == 1 << 30
    assert score_memory_ceiling({SCORE_MEMORY_ENV: "512M"}) == 512 << 20
    assert score_memory_ceiling({SCORE_MEMORY_ENV: "2GiB"}) == 2 << 30
    assert score_memory_ceiling({SCORE_MEMORY_ENV: "1000"}) == 1000
    for bad in ("lots", "-1G", "0"):
        with pytest.raises(ValueError, match=SCORE_MEMORY_ENV):
            score_memory_ceiling({SCORE_MEMORY_ENV: bad})


@pytest.fixture(scope="module")
def digits_model(tmp_path_factory):
    from core import MirroredAE
    from core.data import load_dataset

    out = tmp_path_factory.mktemp("m") / "digits"
    MirroredAE(preset="digits", epochs=1, device="cpu").fit(load_dataset("digits").X_train[:64]).save(out)
    return out


def test_a_model_over_the_ceiling_is_refused_when_loaded_and_never_scores(digits_model, tmp_path, monkeypatch,
                                                                          capsys):
    """The CLI and the app load a model through `MirroredAE.load`: one over the ceiling is refused there, before
    any file of the user's is read; under it, every scoring call stays in batches under the ceiling."""
    from core import MirroredAE
    from core.checkpoints.store import CheckpointError
    from core.cli import main as cli_main

    np.save(tmp_path / "x.npy", np.zeros((3, 8, 8)))
    assert cli_main(["score", "--checkpoint", str(digits_model), "--input", str(tmp_path / "x.npy")]) == 0
    fitted = MirroredAE.load(digits_model, device="cpu")
    assert fitted.scoring_batch_size_ == 1024
    monkeypatch.setenv(SCORE_MEMORY_ENV, "1K")
    capsys.readouterr()
    assert cli_main(["score", "--checkpoint", str(digits_model), "--input", str(tmp_path / "x.npy")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "the scoring memory ceiling is" in err and SCORE_MEMORY_ENV in err
    with pytest.raises(CheckpointError, match="scoring memory ceiling"):
        MirroredAE.load(digits_model, device="cpu")
    with pytest.raises(ValueError, match="scoring memory ceiling"):  # refused before any training step
        MirroredAE(preset="digits", epochs=1, device="cpu").fit(np.zeros((8, 8, 8)))
    monkeypatch.setenv(SCORE_MEMORY_ENV, f"{3 * scoring_bytes_per_sample(fitted.config_, (1, 8, 8))}")
    small = MirroredAE.load(digits_model, device="cpu")
    assert small.scoring_batch_size_ == 3
    # batches of 3 score what one batch of 7 scores (image models in float32: to rounding)
    assert np.allclose(small.decision_function(np.zeros((7, 8, 8))), fitted.decision_function(np.zeros((7, 8, 8))),
                       rtol=1e-5)


def test_a_float64_pass_counts_twice_the_bytes():
    cfg = make_config("kdd99")  # tabular models score in float64 (`MirroredAE._scores`)
    single, double = scoring_bytes_per_sample(cfg, (121,)), scoring_bytes_per_sample(cfg, (121,), itemsize=8)
    assert abs(double - 2 * single) <= 1 and scoring_batch_size(cfg, (121,), itemsize=8) == 1024
