"""Background training jobs: a module-level registry shared by every browser session of the server.

A job trains a `MirroredAE` under the paper's protocol (leave-one-out for images, the 50/50 split for tables,
as `python -m core train` does) in a daemon thread, reports progress through a `core.train.Callback`, can be
stopped (the weights so far are kept and saved), and saves its checkpoint with test metrics into the runs
folder, where the Models page lists it. No Streamlit in here: pages poll `JOBS`.
"""
from __future__ import annotations

import itertools
import math
import shlex
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from core.train import Callback

_LOCK = threading.Lock()
_IDS = itertools.count(1)
JOBS: dict[int, "Job"] = {}


@dataclass
class JobSpec:
    dataset: str
    anomaly_class: Optional[int]  # None for tabular data
    interpolation: object = 3  # 0, 2, 3 or "acai"
    lam: Optional[float] = None
    epochs: Optional[int] = None
    device: str = "cpu"
    seed: int = 0
    max_train: Optional[int] = None
    preset: Optional[str] = None
    data_dir: Optional[str] = None
    profile: Optional[str] = None
    lr: Optional[float] = None
    batch_size: Optional[int] = None
    scaling: Optional[str] = None
    recon_weight: Optional[float] = None

    def run_name(self) -> str:
        klass = "all" if self.anomaly_class is None else self.anomaly_class
        return f"{self.dataset}-c{klass}-m{self.interpolation}-s{self.seed}-{time.strftime('%Y%m%d-%H%M%S')}"

    def command(self, out: Path) -> str:
        """The CLI command that reproduces this run."""
        args = ["python", "-m", "core", "train", "--dataset", self.dataset, "--interpolation", str(self.interpolation)]
        if self.anomaly_class is not None:
            args += ["--anomaly-class", str(self.anomaly_class)]
        for flag, v in (("--profile", self.profile), ("--preset", self.preset), ("--lam", self.lam),
                        ("--epochs", self.epochs), ("--lr", self.lr), ("--batch-size", self.batch_size),
                        ("--scaling", self.scaling), ("--recon-weight", self.recon_weight),
                        ("--max-train", self.max_train), ("--data-dir", self.data_dir)):
            if v is not None:
                args += [flag, str(v)]
        args += ["--seed", str(self.seed), "--device", self.device, "--out", str(out)]
        return shlex.join(args)


@dataclass
class Job:
    id: int
    spec: JobSpec
    runs_dir: Path
    status: str = "queued"  # queued | running | completed | stopped | diverged | failed
    message: str = ""
    step: int = 0
    total_steps: int = 0
    epoch: int = 0
    epochs: int = 0
    elapsed: float = 0.0
    eta: Optional[float] = None
    history: dict = field(default_factory=dict)  # per-epoch losses, as model.history_
    metrics: dict = field(default_factory=dict)
    path: Optional[str] = None
    started: float = field(default_factory=time.time)
    finished: Optional[float] = None
    stop_requested: bool = False
    traceback_text: str = ""
    thread: Optional[threading.Thread] = None

    @property
    def done(self) -> bool:
        return self.status in ("completed", "stopped", "diverged", "interrupted", "failed")

    @property
    def progress(self) -> float:
        return min(1.0, self.step / self.total_steps) if self.total_steps else 0.0

    def snapshot(self) -> dict:
        """A consistent copy for display (the thread keeps writing)."""
        with _LOCK:
            return {"id": self.id, "status": self.status, "message": self.message, "step": self.step,
                    "total_steps": self.total_steps, "epoch": self.epoch, "epochs": self.epochs,
                    "elapsed": self.elapsed, "eta": self.eta, "progress": self.progress,
                    "history": {k: list(v) for k, v in self.history.items()}, "metrics": dict(self.metrics),
                    "path": self.path, "spec": self.spec, "done": self.done}


class _JobCallback(Callback):
    def __init__(self, job: Job):
        self.job = job
        self.stop_training = False

    def on_train_begin(self, total_steps, epochs):
        with _LOCK:
            self.job.total_steps, self.job.epochs, self.job.status = total_steps, epochs, "running"

    def on_step(self, info):
        with _LOCK:
            self.job.step = info.step + 1
            self.job.elapsed = info.elapsed
            if self.job.step:
                self.job.eta = info.elapsed / self.job.step * (self.job.total_steps - self.job.step)
        if self.job.stop_requested:
            self.stop_training = True

    def on_epoch(self, info):
        with _LOCK:
            self.job.epoch = info.epoch + 1
            self.job.elapsed, self.job.eta = info.elapsed, info.eta
            for k, v in info.losses.items():
                self.job.history.setdefault(k, []).append(float(v))
            self.job.history.setdefault("loss_feat", []).append(info.loss_feat)


def _run(job: Job) -> None:
    from core import MirroredAE
    from core.evaluation.runner import ProtocolRun
    from core.train import TrainingDiverged

    spec = job.spec
    try:
        with _LOCK:
            job.status, job.message = "running", "loading data"
        out = Path(job.runs_dir) / spec.run_name()
        run = ProtocolRun.prepare(spec.dataset, spec.anomaly_class, seed=spec.seed, data_dir=spec.data_dir,
                                  max_train=spec.max_train)
        model = MirroredAE(preset=spec.preset or run.preset, interpolation=spec.interpolation, profile=spec.profile,
                           lam=spec.lam, epochs=spec.epochs, lr=spec.lr, batch_size=spec.batch_size,
                           scaling=spec.scaling, recon_weight=spec.recon_weight, device=spec.device, seed=spec.seed,
                           contamination=run.contamination)
        command = spec.command(out) + "  # trained in the maesi lab"
        with _LOCK:
            job.message = f"training on {len(run.X_train)} samples"
        try:
            outcome = run.fit_and_evaluate(model, callbacks=[_JobCallback(job)])
        except TrainingDiverged as e:
            with _LOCK:
                job.status, job.message = "diverged", f"{e} It diverged before its first finished epoch: nothing saved."
            return
        path = run.save(model, out, outcome, command=command)
        metrics = outcome["metrics"]
        verdict = (model.health_ or {}).get("verdict", "not recorded")
        with _LOCK:
            job.metrics, job.path = metrics, str(path)
            job.status = outcome["status"] if outcome["status"] in ("stopped", "diverged", "interrupted") else "completed"
            job.message = (f"saved {Path(path).name}: AUC {metrics['auc']:.3f}, health {verdict}" +
                           {"stopped": " (stopped early: the weights so far)",
                            "diverged": " (diverged: the last good weights)",
                            "interrupted": " (interrupted: the best weights so far)"}.get(job.status, ""))
    except Exception as e:  # noqa: BLE001: a failed job reports, the server goes on
        with _LOCK:
            job.status = "failed"
            job.message = f"{type(e).__name__}: {e}"
            job.traceback_text = traceback.format_exc()
    finally:
        with _LOCK:
            job.finished = time.time()


def start(spec: JobSpec, runs_dir) -> Job:
    """Start training `spec` in a background thread; returns the registered job."""
    Path(runs_dir).mkdir(parents=True, exist_ok=True)
    with _LOCK:
        job = Job(id=next(_IDS), spec=spec, runs_dir=Path(runs_dir))
        JOBS[job.id] = job
    job.thread = threading.Thread(target=_run, args=(job,), name=f"maesi-train-{job.id}", daemon=True)
    job.thread.start()
    return job


def stop(job_id: int) -> None:
    """Ask a job to stop after its current step (its weights are kept and saved)."""
    job = JOBS.get(job_id)
    if job is not None:
        job.stop_requested = True


def active() -> list[Job]:
    return [j for j in list(JOBS.values()) if not j.done]


def recent(limit: int = 5) -> list[Job]:
    return sorted(JOBS.values(), key=lambda j: -j.id)[:limit]


def fmt_seconds(s: Optional[float]) -> str:
    if s is None or not math.isfinite(s):
        return "–"
    s = int(round(s))
    return f"{s // 60}:{s % 60:02d}" if s >= 60 else f"{s}s"
