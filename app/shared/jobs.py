"""Background training jobs: a module-level registry shared by every browser session of the server.

A job trains a `MirroredAE` under the paper's protocol (leave-one-out for images, the 50/50 split for tables,
as `python -m core train` does) in a daemon thread, reports progress through a `core.training.trainer.Callback`, can
be stopped (the weights so far are kept and saved), and saves its checkpoint with test metrics into the runs
folder, where the Models page lists it. With the checkpoint it saves a training timeline (`core.training.timeline`):
the latents of a fixed, seeded sample of at most TIMELINE_SAMPLES test samples every few epochs.

Owners: a job carries the owner token of the browser that started it (`app/shared/owner.py`), so a reloaded page
finds its own jobs with their progress and Stop button; other users' jobs are only counted, and only the owner can
stop a job.

Shutdowns: `install_shutdown_handling()` (once per process) makes SIGTERM / SIGINT and the interpreter's normal
exit interrupt every running job: the trainer keeps the best (or last finished) epoch's weights, the job saves
them with training status "interrupted", and only then does the process go on exiting (at most SHUTDOWN_WAIT_S).
A job interrupted before its first finished epoch, or one that diverges then, saves nothing and says so. Every
finished job appends one line to the runs folder's journal (JOURNAL), so the Models page can list what happened
to the jobs of an earlier server process. No Streamlit in here: pages poll `JOBS`.
"""
from __future__ import annotations

import atexit
import itertools
import json
import math
import os
import shlex
import signal
import threading
import time
import traceback
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional

from core.training.trainer import Callback

_LOCK = threading.Lock()
_IDS = itertools.count(1)
JOBS: dict[int, "Job"] = {}
TIMELINE_SAMPLES = 1000  # test samples whose latents the timeline stores (anomalies keep their share)
TIMELINE_SNAPSHOTS = 20  # about this many snapshots per run: every max(1, epochs // 20) epochs
LIVE_POINTS = 1000  # per-step losses kept for the live chart (thinned by half whenever full)
SHUTDOWN_WAIT_S = 60.0  # how long a shutdown waits for the running jobs to save
JOURNAL = ".maesi-jobs.jsonl"  # a dot file: the checkpoint listing (core.checkpoints.manifest) never reads it
FINAL = ("completed", "stopped", "diverged", "interrupted", "failed")


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

    def model_kwargs(self) -> dict:
        """The MirroredAE arguments of this spec (None = the preset's or profile's value)."""
        return dict(preset=self.preset, interpolation=self.interpolation, profile=self.profile, lam=self.lam,
                    epochs=self.epochs, lr=self.lr, batch_size=self.batch_size, scaling=self.scaling,
                    recon_weight=self.recon_weight, device=self.device, seed=self.seed)


@dataclass
class Job:
    id: int
    spec: JobSpec
    runs_dir: Path
    owner: str = ""  # the starting browser's token (app/shared/owner.py); "" = nobody's
    status: str = "queued"  # queued | running | completed | stopped | diverged | interrupted | failed
    message: str = ""
    step: int = 0
    total_steps: int = 0
    epoch: int = 0
    epochs: int = 0
    elapsed: float = 0.0
    eta: Optional[float] = None
    history: dict = field(default_factory=dict)  # per-epoch losses, as model.history_
    live: list = field(default_factory=list)  # (fractional epoch, {loss: value}) of recent steps
    metrics: dict = field(default_factory=dict)
    path: Optional[str] = None
    run_name: str = ""
    started: float = field(default_factory=time.time)
    finished: Optional[float] = None
    stop_requested: bool = False
    interrupt_requested: bool = False  # a shutdown: keep the best weights so far, status "interrupted"
    traceback_text: str = ""
    thread: Optional[threading.Thread] = None

    @property
    def done(self) -> bool:
        return self.status in FINAL

    @property
    def progress(self) -> float:
        return min(1.0, self.step / self.total_steps) if self.total_steps else 0.0

    def snapshot(self) -> dict:
        """A consistent copy for display (the thread keeps writing)."""
        with _LOCK:
            return {"id": self.id, "status": self.status, "message": self.message, "step": self.step,
                    "total_steps": self.total_steps, "epoch": self.epoch, "epochs": self.epochs,
                    "elapsed": self.elapsed, "eta": self.eta, "progress": self.progress,
                    "history": {k: list(v) for k, v in self.history.items()}, "live": list(self.live),
                    "metrics": dict(self.metrics), "path": self.path, "run_name": self.run_name,
                    "spec": self.spec, "done": self.done}


def timeline_every(epochs: int) -> int:
    """Epochs between two timeline snapshots: about TIMELINE_SNAPSHOTS per run."""
    return max(1, int(epochs) // TIMELINE_SNAPSHOTS)


class _JobCallback(Callback):
    def __init__(self, job: Job):
        self.job = job
        self.stop_training = False
        self.stride = 1  # record every stride-th step for the live chart
        self.batches = 1

    def on_train_begin(self, total_steps, epochs):
        with _LOCK:
            self.job.total_steps, self.job.epochs, self.job.status = total_steps, epochs, "running"
        self.batches = max(1, total_steps // max(1, epochs))

    def on_step(self, info):
        if self.job.interrupt_requested:
            # The trainer catches KeyboardInterrupt as an interruption: it restores the best (or last finished)
            # epoch's weights and returns with status "interrupted", which the job then saves.
            raise KeyboardInterrupt
        with _LOCK:
            self.job.step = info.step + 1
            self.job.elapsed = info.elapsed
            self.job.eta = info.elapsed / self.job.step * (self.job.total_steps - self.job.step)
            if info.losses and info.step % self.stride == 0:
                self.job.live.append(((info.step + 1) / self.batches, {k: float(v) for k, v in info.losses.items()}))
                if len(self.job.live) > LIVE_POINTS:
                    self.job.live, self.stride = self.job.live[::2], self.stride * 2
        if self.job.stop_requested:
            self.stop_training = True

    def on_epoch(self, info):
        with _LOCK:
            self.job.epoch = info.epoch + 1
            self.job.elapsed, self.job.eta = info.elapsed, info.eta
            for k, v in info.losses.items():
                self.job.history.setdefault(k, []).append(float(v))
            self.job.history.setdefault("loss_feat", []).append(info.loss_feat)
            for k, v in (info.figures or {}).items():  # the health figures, for the live health curves
                if k != "loss_feat":
                    self.job.history.setdefault(k, []).append(float(v))


def _free_path(folder: Path, name: str) -> Path:
    """folder/name, or folder/name-2, -3, ... when a run of that name exists (a save never overwrites)."""
    for n in range(1, 1000):
        candidate = folder / (name if n == 1 else f"{name}-{n}")
        if not candidate.with_name(candidate.name + ".json").exists():
            return candidate
    raise RuntimeError(f"too many runs named {name}")


def _finish(job: Job, status: str, message: str, **fields) -> None:
    with _LOCK:
        job.status, job.message, job.finished = status, message, time.time()
        for k, v in fields.items():
            setattr(job, k, v)
    _write_journal(job)


def _run(job: Job) -> None:
    from core import MirroredAE
    from core.data.messages import plain
    from core.data.subsets import seeded_indices
    from core.evaluation.runner import ProtocolRun
    from core.training.timeline import TimelineCallback, save_timeline
    from core.training.trainer import TrainingDiverged

    spec = job.spec
    try:
        with _LOCK:
            job.status, job.message = "running", "loading data"
        run = ProtocolRun.prepare(spec.dataset, spec.anomaly_class, seed=spec.seed, data_dir=spec.data_dir,
                                  max_train=spec.max_train)
        if job.interrupt_requested:
            return _finish(job, "interrupted", "interrupted before training began: nothing saved.")
        kwargs = dict(spec.model_kwargs(), preset=spec.preset or run.preset)
        model = MirroredAE(**kwargs, contamination=run.contamination)
        epochs = model.make_config().epochs
        sample = seeded_indices(len(run.split.X_test), TIMELINE_SAMPLES, spec.seed, stratify=run.split.y_test)
        timeline = TimelineCallback(model, run.split.X_test[sample], every=timeline_every(epochs))
        out = _free_path(Path(job.runs_dir), job.run_name)
        # The recorded command names no server folder: the run as runs/NAME, the data from $MAESI_DATA.
        command = replace(spec, data_dir=None).command(Path("runs") / out.name) + "  # trained in the maesi lab"
        with _LOCK:
            job.message = f"training on {len(run.X_train)} samples"
        try:
            outcome = run.fit_and_evaluate(model, callbacks=[_JobCallback(job), timeline])
        except TrainingDiverged as e:
            return _finish(job, "diverged", f"{plain(e)} It diverged before its first finished epoch: nothing saved.")
        status = outcome["status"] if outcome["status"] in ("stopped", "diverged", "interrupted") else "completed"
        if status == "interrupted" and not getattr(model, "epochs_finished_", 0):
            return _finish(job, "interrupted", "interrupted before its first finished epoch: nothing saved.")
        path = run.save(model, out, outcome, command=command)
        if timeline.epochs:
            try:
                save_timeline(out, timeline.epochs, timeline.latents, sample)
            except Exception:  # noqa: BLE001: the run is saved; only its timeline is missing
                traceback.print_exc()
        metrics = outcome["metrics"]
        verdict = (model.health_ or {}).get("verdict", "not recorded")
        note = {"stopped": " (stopped early: the weights so far)", "diverged": " (diverged: the last good weights)",
                "interrupted": " (interrupted by a server shutdown: the best weights so far)"}.get(status, "")
        _finish(job, status, f"saved {Path(path).stem}: AUC {metrics['auc']:.3f}, health {verdict}{note}",
                metrics=metrics, path=str(path))
    except Exception as e:  # noqa: BLE001: a failed job reports, the server goes on
        from core.data.messages import plain

        with _LOCK:
            job.traceback_text = traceback.format_exc()
        _finish(job, "failed", f"training failed: {plain(e)}")
    except KeyboardInterrupt:  # an interruption outside the trainer's loop (while preparing or evaluating)
        _finish(job, "interrupted", "interrupted outside training: nothing saved.")
    finally:
        with _LOCK:
            if job.finished is None:
                job.finished = time.time()


def start(spec: JobSpec, runs_dir, owner: str = "") -> Job:
    """Start training `spec` in a background thread; returns the registered job."""
    Path(runs_dir).mkdir(parents=True, exist_ok=True)
    with _LOCK:
        job = Job(id=next(_IDS), spec=spec, runs_dir=Path(runs_dir), owner=owner, run_name=spec.run_name())
        JOBS[job.id] = job
    job.thread = threading.Thread(target=_run, args=(job,), name=f"maesi-train-{job.id}", daemon=True)
    job.thread.start()
    return job


def stop(job_id: int, owner: Optional[str] = None) -> bool:
    """Ask a job to stop after its current step (its weights are kept and saved). With `owner`, only that
    owner's job; returns whether a stop was requested."""
    job = JOBS.get(job_id)
    if job is None or (owner is not None and job.owner != owner):
        return False
    job.stop_requested = True
    return True


def active() -> list[Job]:
    return [j for j in list(JOBS.values()) if not j.done]


def of_owner(owner: str) -> list[Job]:
    """The jobs of one owner (every status), newest first; none for an empty token."""
    return sorted((j for j in list(JOBS.values()) if owner and j.owner == owner), key=lambda j: -j.id)


# ---------------------------------------------------------------- shutdowns

_SHUTDOWN: dict = {"how": None, "previous": {}}


def interrupt_all(timeout: float = SHUTDOWN_WAIT_S) -> list[Job]:
    """Interrupt every running job and wait (at most `timeout` s in all) until each has saved."""
    running = active()
    for job in running:
        job.interrupt_requested = True
    deadline = time.monotonic() + timeout
    for job in running:
        if job.thread is not None and job.thread is not threading.current_thread():
            job.thread.join(max(0.0, deadline - time.monotonic()))
    return running


def _on_signal(signum, frame) -> None:
    interrupt_all()
    previous = _SHUTDOWN["previous"].get(signum)
    if callable(previous):  # e.g. Python's KeyboardInterrupt for SIGINT, or a server's own handler
        previous(signum, frame)
    elif previous == signal.SIG_DFL:  # the default action (terminate), now that the jobs have saved
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


def install_shutdown_handling() -> str:
    """Once per process: SIGTERM / SIGINT and the interpreter's exit interrupt the running jobs, which save
    before the process ends. Signal handlers can only be set from the main thread; Streamlit runs page scripts
    in other threads, so there only the exit hook is registered: Streamlit's own handlers stop the server and
    return from its main loop on SIGTERM / SIGINT, and the interpreter's exit then runs the hook while the jobs'
    daemon threads still live. Returns how it is installed: "signals and exit" or "exit"."""
    with _LOCK:
        if _SHUTDOWN["how"]:
            return _SHUTDOWN["how"]
        atexit.register(interrupt_all)
        how = "exit"
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                _SHUTDOWN["previous"][sig] = signal.getsignal(sig)
                signal.signal(sig, _on_signal)
            how = "signals and exit"
        _SHUTDOWN["how"] = how
        return how


# ---------------------------------------------------------------- journal of finished jobs

def _write_journal(job: Job) -> None:
    spec = job.spec
    record = {"run": job.run_name, "file": Path(job.path).name if job.path else None, "status": job.status,
              "message": job.message, "dataset": spec.dataset, "anomaly_class": spec.anomaly_class,
              "interpolation": spec.interpolation, "epochs_done": job.epoch, "started": job.started,
              "finished": job.finished, "pid": os.getpid()}
    try:
        with _LOCK, open(Path(job.runs_dir) / JOURNAL, "a", encoding="utf-8") as f:
            f.write(json.dumps(record, default=str) + "\n")
    except OSError:
        traceback.print_exc()  # the run itself is saved (or was never going to be): only its record is lost


def journal(runs_dir, limit: int = 20, earlier_only: bool = True) -> list[dict]:
    """The last `limit` records of finished jobs, newest first; `earlier_only`: of other server processes.
    Damaged lines are skipped; only the file's tail is read."""
    path = Path(runs_dir) / JOURNAL
    try:
        with open(path, "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 256 * 1024))
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return []
    out = []
    for line in reversed(lines):
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict) and (not earlier_only or rec.get("pid") != os.getpid()):
            out.append(rec)
        if len(out) >= limit:
            break
    return out


def fmt_seconds(s: Optional[float]) -> str:
    if s is None or not math.isfinite(s):
        return "–"
    s = int(round(s))
    if s >= 3600:
        return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"
    return f"{s // 60}:{s % 60:02d}" if s >= 60 else f"{s}s"
