"""The Models page's helpers and the training jobs (issues 11 and 12), without Streamlit: the table's marks, a
run's delete / rename / download, the Score page's reader path, the training figures and estimate, job owners,
the journal, and shutdowns (SIGTERM to a process training a job keeps the best weights as "interrupted")."""
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from app.models import runs, table, training_estimate, training_figures  # noqa: E402
from app.score import uploads
from app.shared import jobs
from core.checkpoints.store import CheckpointError  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "checkpoints"


def _copy_run(name: str, folder: Path, as_name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    from core.checkpoints.store import load_bytes_checkpoint

    meta = json.loads((SHIPPED / f"{name}.json").read_text())
    meta["weights_file"] = f"{as_name}.safetensors"
    return load_bytes_checkpoint((SHIPPED / f"{name}.safetensors").read_bytes(), json.dumps(meta).encode(), folder)


# ------------------------------------------------------------------ table

def test_the_table_marks_status_and_health_and_never_shows_none():
    entries = [{"name": "a", "source": "yours", "dataset": "digits", "anomaly_class": 3, "interpolation": 2,
                "metrics": {"auc": 0.91234, "ap": None}, "status": "interrupted",
                "health": {"verdict": "collapsed", "reasons": []}},
               {"name": "b", "source": "shipped", "dataset": "thyroid", "anomaly_class": None, "interpolation": 0,
                "metrics": {"auc": float("nan"), "f1": 0.5}}]
    frame = table.models_frame(entries)
    assert list(frame.columns) == table.COLUMNS
    assert frame.loc[0, ["AUC", "AP", "F1"]].tolist() == ["0.912", "—", "—"]
    assert frame.loc[1, ["AUC", "F1", "class"]].tolist() == ["—", "0.500", "all"]
    assert frame.loc[0, "status"] == "interrupted" and frame.loc[1, "status"] == "completed"
    assert frame.loc[0, "health"] == "⚠ collapsed" and frame.loc[1, "health"] == "– not recorded"
    assert "None" not in frame.to_csv()


def test_the_table_scope_follows_the_sidebar():
    scopes = table.scopes("digits", 3)
    assert scopes[0] == "digits" and "digits, class 3" in scopes
    e = {"dataset": "digits", "anomaly_class": 4, "source": "shipped"}
    assert table.in_scope(e, "digits", "digits", 3)
    assert not table.in_scope(e, "digits, class 3", "digits", 3)
    assert not table.in_scope(e, "your runs", "digits", 3) and table.in_scope(e, "all datasets", "x", 1)


# ------------------------------------------------------------------ a run's files

def test_delete_rename_and_download_a_run_with_its_timeline(tmp_path):
    from core.training.timeline import load_timeline, save_timeline

    root = tmp_path / "runs"
    path = _copy_run("digits-c0-m3", root, "mine")
    _copy_run("digits-c0-m2", root, "other")
    save_timeline(path, [0, 1], [np.zeros((4, 16)), np.ones((4, 16))], np.arange(4))
    data, name = runs.run_zip(path)
    assert name == "mine.zip"
    assert sorted(zipfile.ZipFile(io.BytesIO(data)).namelist()) == ["mine.json", "mine.safetensors",
                                                                    "mine.timeline.safetensors"]
    for bad, match in (("other", "already exists"), ("../escape", "name"), ("x.timeline", "timeline"),
                       ("mine", "already its name")):
        with pytest.raises(CheckpointError, match=match):
            runs.rename_run(path, bad, root)
    new = runs.rename_run(path, "renamed", root)
    assert new.name == "renamed.safetensors" and not path.exists()
    assert load_timeline(new)[0].tolist() == [0, 1]  # the timeline moved with it
    with pytest.raises(CheckpointError, match="not in the runs folder"):
        runs.delete_run(SHIPPED / "digits-c0-m3", root)
    assert sorted(runs.delete_run(new, root)) == ["renamed.json", "renamed.safetensors", "renamed.timeline.safetensors"]
    assert sorted(p.name for p in root.iterdir()) == ["other.json", "other.safetensors"]


def test_a_timeline_file_is_not_listed_as_a_broken_checkpoint(tmp_path):
    from core.checkpoints.manifest import list_folder
    from core.training.timeline import save_timeline

    path = _copy_run("digits-c0-m3", tmp_path, "mine")
    save_timeline(path, [0], [np.zeros((2, 16))], np.arange(2))
    entries, skipped = list_folder(tmp_path)
    assert [e["name"] for e in entries] == ["mine"] and skipped == []
    assert entries[0]["status"] == "completed"


# ------------------------------------------------------------------ the Score page's reader path

class Upload(io.BytesIO):
    """What st.file_uploader hands the page: bytes with a name."""

    def __init__(self, name: str, data: bytes):
        super().__init__(data)
        self.name = name


def _png(value: int = 200, light_border: bool = False) -> bytes:
    from PIL import Image

    a = np.full((8, 8), 255 if light_border else 0, np.uint8)
    a[2:6, 2:6] = value
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return buf.getvalue()


def test_a_partial_batch_scores_the_good_files_and_names_the_bad():
    from core import MirroredAE

    model = MirroredAE.load(SHIPPED / "digits-c0-m3", device="cpu")
    arr = io.BytesIO()
    np.save(arr, np.full((2, 1, 8, 8), 40.0, np.float32))
    files = [Upload("good.png", _png()), Upload("light.png", _png(0, light_border=True)),
             Upload("broken.png", b"junk"), Upload("hot.npy", arr.getvalue()), Upload("notes.md", b"hello")]
    X, names, problems, inverted = uploads.read_uploads(files, model, polarity="auto")
    assert names == ["hot.npy[0]", "hot.npy[1]", "good.png", "light.png"] and X.shape == (4, 1, 8, 8)
    assert inverted == 1 and X[:2].max() == 40  # arrays are never inverted
    listed = uploads.problem_list(problems, "error")
    assert "`broken.png`: not an image" in listed and "`notes.md`: not a supported file type" in listed
    assert "`hot.npy`" in uploads.problem_list(problems, "warning")
    for text in (listed, uploads.problems_csv(problems).decode()):
        assert "0x" not in text and "BytesIO" not in text and "Traceback" not in text


# ------------------------------------------------------------------ figures and the estimate

def test_loss_curves_are_lines_on_an_integer_epoch_axis():
    fig = training_figures.loss_curves({"critic": [1.0], "loss_feat": [None]}, planned_epochs=20,
                                       live=[(0.25, {"critic": 2.0}), (0.5, {"critic": 1.5}), (1.0, {"critic": 1.0})])
    assert fig.layout.xaxis.tickformat == "d" and fig.layout.xaxis.dtick == 2 and fig.layout.xaxis.range[1] == 20.5
    steps = next(t for t in fig.data if t.name == "critic (steps)")
    assert steps.mode == "lines" and len(steps.x) == 3  # a line already during the first epoch
    assert [t.name for t in training_figures.loss_curves({}, 5, live=[(0.1, {"eg": 1.0})]).data] == ["eg"]


def test_health_curves_show_every_figure_with_the_thresholds():
    from core.training.health import THRESHOLDS

    h = {"recon_ratio": [1.0, 0.4], "output_spread": [0.1, 0.6], "e_change": [0.01, 0.1], "g_change": [0.02, 0.3],
         "latent_norm": [2.0, 3.5], "w_estimate": [0.3, float("nan")]}
    assert training_figures.has_health_curves(h) and not training_figures.has_health_curves({"critic": [1]})
    fig = training_figures.health_curves(h, THRESHOLDS, latent_dim=16)
    assert sorted(t.name for t in fig.data) == sorted(h)
    levels = sorted(s.y0 for s in fig.layout.shapes)
    assert levels == sorted([0.9, 0.1, 0.02, 4.0])
    # each dashed line spans its own panel: the panel's x domain, on the y axis of the panel that shows its key
    expected = {}
    for i, (_, keys, ref) in enumerate(training_figures.HEALTH_PANELS):
        level = THRESHOLDS.get(ref) if ref else (4.0 if "latent_norm" in keys else None)
        if level is not None:
            expected["y" if i == 0 else f"y{i + 1}"] = level
    assert {s.yref: s.y0 for s in fig.layout.shapes} == expected
    assert all(s.xref == s.yref.replace("y", "x") + " domain" and (s.x0, s.x1) == (0, 1) for s in fig.layout.shapes)


def test_the_estimate_scales_a_measured_step_to_the_run():
    est = training_estimate.estimate({"step_s": 0.01, "probe_s_per_sample": 1e-5}, n_train=1000, n_test=200,
                                     epochs=10, batch_size=100, timeline_every=1)
    assert est["steps"] == 100 and est["total_s"] == pytest.approx(1.0 + est["overhead_s"])
    assert est["overhead_s"] == pytest.approx((10 * 1000 + 11 * 200 + 1200) * 1e-5)


def test_the_step_clock_measures_a_real_configuration():
    m = training_estimate.measure.__wrapped__("digits", 3, "paper", 32, (1, 8, 8), (0, 16), "cpu")
    assert m["steps"] == training_estimate.MEASURED_STEPS and 0 < m["step_s"] < 5 and m["probe_s_per_sample"] >= 0


# ------------------------------------------------------------------ jobs: owners, divergence, journal

def test_a_diverged_job_saves_nothing(tmp_path, monkeypatch):
    """The worker's training (app/shared/worker.py), run here in-process so that the trainer can be patched."""
    from app.shared import worker
    from core.evaluation.runner import ProtocolRun
    from core.training.trainer import TrainingDiverged, TrainResult

    def diverge(self, estimator, callbacks=(), extra_scores=()):
        raise TrainingDiverged(0, 0, ["critic"], "weights of the last finished epoch", TrainResult())

    monkeypatch.setattr(ProtocolRun, "fit_and_evaluate", diverge)
    sent = []
    worker.run_job(jobs.JobSpec(dataset="digits", anomaly_class=0, epochs=2), tmp_path, "run",
                   lambda kind, **fields: sent.append(dict(fields, kind=kind)), worker.Control())
    assert [m["kind"] for m in sent] == ["status", "status", "done"]
    assert sent[-1]["status"] == "diverged" and "nothing saved" in sent[-1]["message"] and "path" not in sent[-1]
    assert list(tmp_path.iterdir()) == []


def _wait(predicate, timeout=120.0):
    end = time.time() + timeout
    while time.time() < end and not predicate():
        time.sleep(0.05)
    assert predicate()


def test_jobs_queue_for_the_pool_only_the_owner_stops_one_and_a_killed_worker_fails(tmp_path, monkeypatch):
    """MAESI_MAX_JOBS=1: the second and third jobs wait in line with their places; a stopped queued job leaves the
    queue having saved nothing; SIGKILL of a worker (what the kernel's OOM killer sends) makes its job failed with
    the reason while the server goes on and starts the next job."""
    from app.models.training_panel import job_status

    monkeypatch.setattr(jobs, "MAX_JOBS", 1)
    a, b = "a" * 32, "b" * 32
    long_job = jobs.start(jobs.JobSpec(dataset="digits", anomaly_class=0, epochs=300, threads=1), tmp_path, owner=a)
    _wait(lambda: long_job.epoch >= 1)
    short = jobs.start(jobs.JobSpec(dataset="digits", anomaly_class=1, epochs=1, max_train=100, threads=1), tmp_path,
                       owner=a)
    third = jobs.start(jobs.JobSpec(dataset="digits", anomaly_class=2, epochs=1), tmp_path, owner=a)
    time.sleep(0.5)
    assert job_status(short.snapshot()) == "queued, 1st in line"
    assert job_status(third.snapshot()) == "queued, 2nd in line"
    assert not jobs.stop(third.id, owner=b) and not third.stop_requested
    assert jobs.stop(third.id, owner=a)
    third.thread.join(30)
    assert third.status == "stopped" and "nothing saved" in third.message and third.path is None
    assert jobs.place_in_queue(short) == 1 and short.status == "queued"
    assert third in jobs.of_owner(a) and third not in jobs.of_owner("") and third not in jobs.of_owner(b)

    os.kill(long_job.process.pid, signal.SIGKILL)
    long_job.thread.join(30)
    assert long_job.status == "failed", long_job.message
    assert "the worker process was killed (signal 9, maybe out of memory)" in long_job.message
    short.thread.join(120)
    assert short.status == "completed", short.message
    assert Path(short.path).exists() and short.metrics["auc"] >= 0
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".json", ".jsonl", ".safetensors", ".safetensors"]
    records = [json.loads(line) for line in (tmp_path / jobs.JOURNAL).read_text().splitlines()]
    assert [(r["run"], r["status"]) for r in records] == [(third.run_name, "stopped"), (long_job.run_name, "failed"),
                                                           (short.run_name, "completed")]
    assert records[0]["file"] is None and records[0]["pid"] == os.getpid()
    assert jobs.journal(tmp_path) == []  # this process's own jobs are listed live, not from the journal
    with open(tmp_path / jobs.JOURNAL, "a") as f:
        f.write("{damaged\n" + json.dumps({"run": "old", "status": "interrupted", "pid": -1}) + "\n")
    assert [r["run"] for r in jobs.journal(tmp_path)] == ["old"]


# ------------------------------------------------------------------ shutdowns

JOB_SCRIPT = textwrap.dedent("""
    import signal, sys, threading, time
    sys.path.insert(0, sys.argv[1])
    from app.shared import jobs

    def start():
        jobs.install_shutdown_handling()
        return jobs.start(jobs.JobSpec(dataset="digits", anomaly_class=0, interpolation=3, epochs=500), sys.argv[2])

    if sys.argv[3] == "main":  # a plain process: the handlers are installed from the main thread
        job = start()
    else:  # as under Streamlit: installed from a script thread; the server's own SIGTERM handler ends its loop
        box = []
        worker = threading.Thread(target=lambda: box.append(start()))
        worker.start(); worker.join()
        job = box[0]
        signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    while job.epoch < 1:
        time.sleep(0.05)
    print("training", flush=True)
    time.sleep(300)
""")


@pytest.mark.parametrize("installed_from", ["main", "script-thread"])
def test_sigterm_during_training_keeps_the_best_weights_as_interrupted(tmp_path, installed_from):
    proc = subprocess.Popen([sys.executable, "-c", JOB_SCRIPT, str(ROOT), str(tmp_path), installed_from],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, OMP_NUM_THREADS="1"))
    try:
        assert proc.stdout.readline().strip() == "training", proc.stderr.read()[-3000:]
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=90)
    finally:
        proc.kill()
    sidecars = [p for p in tmp_path.glob("*.json")]
    assert len(sidecars) == 1, (sorted(p.name for p in tmp_path.iterdir()), proc.stderr.read()[-3000:])
    meta = json.loads(sidecars[0].read_text())
    assert meta["training_status"] == "interrupted" and meta["health"]["verdict"] in ("ok", "collapsed", "untrained")
    assert 1 <= len(meta["history"]["seconds"]) < 500
    assert sidecars[0].with_name(sidecars[0].stem + ".timeline.safetensors").exists()
    record = json.loads((tmp_path / jobs.JOURNAL).read_text().splitlines()[-1])
    assert record["status"] == "interrupted" and record["file"] == sidecars[0].stem + ".safetensors"
    assert proc.returncode == (-signal.SIGTERM if installed_from == "main" else 0)


ORPHAN_SCRIPT = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, sys.argv[1])
    from app.shared import jobs

    job = jobs.start(jobs.JobSpec(dataset="digits", anomaly_class=0, interpolation=3, epochs=500, threads=1),
                     sys.argv[2])
    while job.epoch < 1:
        time.sleep(0.05)
    print(job.process.pid, flush=True)
    time.sleep(300)
""")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")  # a zombie has exited; only its parent (now init) has not reaped it yet


def test_a_worker_whose_server_dies_saves_what_it_has_and_exits(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", ORPHAN_SCRIPT, str(ROOT), str(tmp_path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
    try:
        line = proc.stdout.readline().strip()
        assert line.isdigit(), proc.stderr.read()[-3000:]
        worker_pid = int(line)
        proc.kill()  # the server dies without any shutdown handling
        proc.wait(30)
        end = time.time() + 90
        while time.time() < end and _alive(worker_pid):
            time.sleep(0.2)
        assert not _alive(worker_pid), "the orphaned worker lingers"
    finally:
        proc.kill()
    sidecars = list(tmp_path.glob("*.json"))
    assert len(sidecars) == 1, sorted(p.name for p in tmp_path.iterdir())
    assert json.loads(sidecars[0].read_text())["training_status"] == "interrupted"
