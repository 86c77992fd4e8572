"""The lab's training jobs on an existing Ray cluster (MAESI_RAY_ADDRESS, app/shared/ray_jobs.py): a real cluster
started with `ray start --head` on this machine trains a job, relays its progress, takes its Stop, and the run
lands in the server's runs folder and loads; an address where nothing answers fails the job in one line, quickly.
Skipped when Ray is not installed (CI installs requirements-ray.txt)."""
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("ray", reason="Ray is not installed (pip install -r requirements-ray.txt)")

ROOT = Path(__file__).resolve().parents[1]
RAY = str(Path(sys.executable).with_name("ray"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(predicate, timeout=240.0):
    end = time.time() + timeout
    while time.time() < end and not predicate():
        time.sleep(0.1)
    assert predicate()


@pytest.fixture(scope="module")
def cluster():
    """A Ray head on this machine (the loopback address), its workers importing this checkout. Without token
    authentication: a `ray start` finding ~/.ray/auth_token (which any local ray.init, e.g. tests/test_ray.py's,
    writes) would turn it on, and a client joining by address must then set RAY_AUTH_MODE=token itself."""
    import ray

    port = _free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT), RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="disabled")
    subprocess.run([RAY, "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}", "--num-cpus=2",
                    "--include-dashboard=false", "--disable-usage-stats"], env=env, check=True, timeout=180,
                   capture_output=True)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        ray.shutdown()
        subprocess.run([RAY, "stop", "--force"], env=env, timeout=120, capture_output=True)


def test_a_job_trains_on_the_cluster_relays_its_progress_and_lands_in_the_runs_folder(cluster, tmp_path,
                                                                                      monkeypatch):
    from app.shared import jobs
    from core import MirroredAE
    from core.training.timeline import load_timeline

    monkeypatch.setenv("MAESI_RAY_ADDRESS", cluster)
    job = jobs.start(jobs.JobSpec(dataset="digits", anomaly_class=1, epochs=2, max_train=200, threads=1), tmp_path,
                     owner="me")
    _wait(lambda: job.done)
    assert job.status == "completed", job.message
    assert "trained on Ray node" in job.message
    assert job.epoch == 2 and len(job.history["loss_feat"]) == 2 and job.live  # progress came back through the relay
    path = Path(job.path)
    assert path.parent == tmp_path and path.exists() and path.with_suffix(".json").exists()
    model = MirroredAE.load(path)
    assert len(model.history_["loss_feat"]) == 2 and job.metrics["auc"] is not None
    epochs, latents, _ = load_timeline(path)
    assert len(epochs) and latents.shape[0] == len(epochs)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".") and p.suffix == ".tmp"]


def test_stop_reaches_a_job_on_the_cluster_and_the_weights_so_far_are_saved(cluster, tmp_path, monkeypatch):
    from app.shared import jobs

    monkeypatch.setenv("MAESI_RAY_ADDRESS", cluster)
    job = jobs.start(jobs.JobSpec(dataset="digits", anomaly_class=0, epochs=500, threads=1), tmp_path, owner="me")
    _wait(lambda: job.epoch >= 1 or job.done)
    assert not job.done, job.message
    assert not jobs.stop(job.id, owner="someone else")
    assert jobs.stop(job.id, owner="me")
    _wait(lambda: job.done, timeout=120)
    assert job.status == "stopped", job.message
    assert 1 <= job.epoch < 500 and Path(job.path).exists()


def test_a_shutdown_interrupts_a_job_on_the_cluster_which_saves_as_interrupted(cluster, tmp_path, monkeypatch):
    from app.shared import jobs
    from core import MirroredAE

    monkeypatch.setenv("MAESI_RAY_ADDRESS", cluster)
    job = jobs.start(jobs.JobSpec(dataset="digits", anomaly_class=2, epochs=500, threads=1), tmp_path)
    _wait(lambda: job.epoch >= 1 or job.done)
    assert job in jobs.interrupt_all(timeout=90)
    assert job.status == "interrupted", job.message
    assert MirroredAE.load(job.path).training_status_ == "interrupted"


def test_an_address_where_no_cluster_answers_fails_the_job_in_one_line(tmp_path):
    """In a process of its own: a server already joined to a cluster keeps it."""
    code = ("import sys, time\n"
            "from app.shared import jobs\n"
            "job = jobs.start(jobs.JobSpec(dataset='digits', anomaly_class=0, epochs=1), sys.argv[1])\n"
            "job.thread.join(60)\n"
            "print(job.status); print(job.message)\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT), MAESI_RAY_ADDRESS=f"127.0.0.1:{_free_port()}")
    started = time.monotonic()
    run = subprocess.run([sys.executable, "-c", code, str(tmp_path)], env=env, cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    status, message = run.stdout.strip().splitlines()
    assert status == "failed"
    assert message.startswith("training failed: the Ray cluster at 127.0.0.1:") and "no Ray cluster answers" in message
    assert time.monotonic() - started < 60
    assert not list(tmp_path.glob("*.json"))
