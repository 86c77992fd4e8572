"""The Ray executor of the reproduction grid: a small grid on a Ray started here with 2 workers gives the local
executor's table exactly, and the cell store is the driver's. Skipped when Ray is not installed (CI installs
requirements-ray.txt)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GRID = ["--experiment", "digits", "--budget", "smoke", "--seeds", "1", "--methods", "pca", "maesi-none",
        "--classes", "1", "2"]


def reproduce(out: Path, *extra: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    import os

    env = dict(os.environ, PYTHONPATH=str(ROOT), **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "core", "reproduce", *GRID, "--out", str(out), *extra],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_a_grid_on_ray_equals_the_local_grid(tmp_path):
    pytest.importorskip("ray", reason="Ray is not installed (pip install -r requirements-ray.txt)")
    ray_run = reproduce(tmp_path / "ray", "--executor", "ray", env_extra={"MAESI_RAY_NUM_CPUS": "2"})
    assert ray_run.returncode == 0, ray_run.stderr[-2000:]
    local_run = reproduce(tmp_path / "local")
    assert local_run.returncode == 0, local_run.stderr[-2000:]
    assert (tmp_path / "ray" / "digits.csv").read_text() == (tmp_path / "local" / "digits.csv").read_text()
    cells = sorted((tmp_path / "ray" / "cache").glob("digits/*/digits/*/*/seed0.json"))
    assert len(cells) == 4
    records = [json.loads(p.read_text()) for p in cells]
    assert all(r["device"].startswith("cpu") and not r.get("error") for r in records)
    invocations = (tmp_path / "ray" / "cache").glob("digits/*/invocations.jsonl")
    assert [json.loads(line)["executor"] for p in invocations for line in p.read_text().splitlines()] == ["ray"]


def test_the_ray_executor_without_ray_is_a_one_line_error(tmp_path):
    # A Python that cannot import ray: the site-packages entry is shadowed by a module that fails to import.
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "ray.py").write_text("raise ImportError('no ray here')\n")
    import os

    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(shadow), str(ROOT)]))
    run = subprocess.run([sys.executable, "-m", "core", "reproduce", *GRID, "--out", str(tmp_path / "o"),
                          "--executor", "ray"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert run.stderr.strip() == "error: the ray executor needs Ray: pip install -r requirements-ray.txt"
