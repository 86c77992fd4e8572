"""Background training jobs: a module-level registry shared by every browser session of the server, and a bounded
pool of worker processes that train them.

A job trains a `MirroredAE` under the paper's protocol (leave-one-out for images, the 50/50 split for tables,
as `python -m core train` does) in a worker process of its own (`app/shared/worker.py`, started with
multiprocessing's `spawn`: torch and fork do not mix, and the server runs threads), reports progress back over a
pipe, can be stopped (the weights so far are kept and saved), and saves its checkpoint with test metrics and a
training timeline into the runs folder, where the Models page lists it. At most `pool_size()` jobs train at once
(MAESI_MAX_JOBS, default one per spare core, read once per server); the others wait in line, first come first
served (`place_in_queue`). With MAESI_RAY_ADDRESS set, the same pool submits each job to that Ray cluster instead
of a local process (`app/shared/ray_jobs.py`); set MAESI_MAX_JOBS to what the cluster can train at once. Each job's server-side thread (`Job.thread`) waits for its turn, starts the worker and
relays its progress into the `Job`; a worker that dies (a crash, an out-of-memory kill) makes its job `failed`
with the reason, and the server goes on.

Owners: a job carries the owner token of the browser that started it (`app/shared/owner.py`), so a reloaded page
finds its own jobs with their progress and Stop button; other users' jobs are only counted, and only the owner can
stop a job.

Shutdowns: `install_shutdown_handling()` (once per process) makes SIGTERM / SIGINT and the interpreter's normal
exit interrupt every job: queued ones end at once, running workers are told to interrupt; each keeps the best (or
last finished) epoch's weights and saves them with training status "interrupted", and only then does the process
go on exiting (at most SHUTDOWN_WAIT_S; a worker still busy then is killed). A job interrupted before its first
finished epoch, or one that diverges then, saves nothing and says so. Every finished job appends one line to the
runs folder's journal (JOURNAL), so the Models page can list what happened to the jobs of an earlier server
process. No Streamlit in here: pages poll `JOBS`.
"""
from __future__ import annotations

import atexit
import itertools
import logging
import math
import os
import signal
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from app.shared import job_journal, ray_jobs, worker
from app.shared.job_journal import JOURNAL, read as journal  # noqa: F401: the pages' and tests' names
from app.shared.job_spec import JobSpec  # noqa: F401: the pages' and tests' name
from app.shared.worker import LIVE_POINTS, TIMELINE_SAMPLES, TIMELINE_SNAPSHOTS, thin_live, timeline_every  # noqa: F401

# Reentrant: a signal handler (running in the main thread) may take it while the main thread holds it.
_LOCK = threading.RLock()
_TURN = threading.Condition(_LOCK)  # signalled whenever a slot frees or a queued job is stopped
_IDS = itertools.count(1)
JOBS: dict[int, "Job"] = {}
_QUEUE: list = []  # ids of the queued jobs, the next to start first
_RUNNING: set = set()  # ids of the jobs holding a slot of the pool
MAX_JOBS: Optional[int] = None  # the pool's size, read from MAESI_MAX_JOBS by the first `pool_size()`
SHUTDOWN_WAIT_S = 60.0  # how long a shutdown waits for the running jobs to save
FINAL = ("completed", "stopped", "diverged", "interrupted", "failed")


def pool_size() -> int:
    """How many jobs train at once: MAESI_MAX_JOBS, else one per spare core (one core left to the server)."""
    global MAX_JOBS
    if MAX_JOBS is None:
        raw = os.environ.get("MAESI_MAX_JOBS", "").strip()
        default = max(1, (os.cpu_count() or 1) - 1)
        try:
            MAX_JOBS = max(1, int(raw)) if raw else default
        except ValueError:
            logging.getLogger("maesi.app").warning("MAESI_MAX_JOBS=%r is not a whole number: %d jobs at once", raw,
                                                   default)
            MAX_JOBS = default
    return MAX_JOBS


def default_threads() -> int:
    """A job's CPU threads by default: its share of the spare cores (one stays with the server) when the pool is
    full; one on a 2-core machine, where small multi-threaded ops would slow down against the server's work."""
    return max(1, ((os.cpu_count() or 1) - 1) // pool_size())


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
    thread: Optional[threading.Thread] = None  # the server's side of the job: waits its turn, relays the worker
    process: Optional[object] = None  # the worker (a multiprocessing Process) while it lives
    control: Optional[object] = None  # the pipe end the server sends "stop" / "interrupt" through
    killed_at_shutdown: bool = False

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
                    "spec": self.spec, "done": self.done, "place": place_in_queue(self)}


def place_in_queue(job: Job) -> Optional[int]:
    """1 for the next job to start, 2 for the one after, ...; None when the job is not waiting."""
    with _LOCK:
        return _QUEUE.index(job.id) + 1 if job.id in _QUEUE else None


def _finish(job: Job, status: str, message: str, **fields) -> None:
    with _LOCK:
        job.status, job.message, job.finished = status, message, time.time()
        for k, v in fields.items():
            setattr(job, k, v)
    job_journal.write(job)


def _apply(job: Job, msg: dict) -> None:
    """One progress message of the worker (app/shared/worker.py) into the job."""
    kind = msg["kind"]
    with _LOCK:
        if kind == "status":
            job.message = msg["message"]
        elif kind == "begin":
            job.total_steps, job.epochs, job.status = msg["total_steps"], msg["epochs"], "running"
        elif kind == "progress":
            job.step = msg["step"] or job.step
            job.elapsed = msg["elapsed"]
            job.eta = msg["eta"] if msg["eta"] is not None else (
                job.elapsed / job.step * (job.total_steps - job.step) if job.step else None)
            for point in msg["live"]:
                job.live = thin_live(job.live, point)
        elif kind == "epoch":
            job.epoch, job.elapsed, job.eta = msg["epoch"], msg["elapsed"], msg["eta"]
            for k, v in msg["values"]:
                job.history.setdefault(k, []).append(v)


def _wait_for_turn(job: Job) -> bool:
    """Blocks until the job holds a slot of the pool (True), or ends it when stopped while queued (False)."""
    with _TURN:
        while True:
            if job.stop_requested or job.interrupt_requested:
                _QUEUE.remove(job.id)
                _TURN.notify_all()  # the jobs behind it move up
                break
            if _QUEUE[0] == job.id and len(_RUNNING) < pool_size():
                _QUEUE.pop(0)
                _RUNNING.add(job.id)
                job.status, job.message = "running", "starting its worker process"
                _TURN.notify_all()
                return True
            _TURN.wait(1.0)
    if job.interrupt_requested:
        _finish(job, "interrupted", "interrupted by a server shutdown while queued: nothing saved.")
    else:
        _finish(job, "stopped", "stopped while queued: nothing trained, nothing saved.")
    return False


def _finish_done(job: Job, done: dict) -> None:
    """Records the worker's "done" message."""
    fields = {k: done[k] for k in ("metrics", "path", "traceback_text") if k in done}
    _finish(job, done["status"], done["message"], **fields)


def _run_on_ray(job: Job, threads: int) -> None:
    """The job as a task of the Ray cluster of MAESI_RAY_ADDRESS (app/shared/ray_jobs.py), relayed like a local
    worker."""
    def on_start(process, control) -> None:
        with _LOCK:
            job.process, job.control = process, control
        for wanted, request in ((job.stop_requested, "stop"), (job.interrupt_requested, "interrupt")):
            if wanted:
                _tell(job, request)

    try:
        done, failure = ray_jobs.run_on_ray(job, threads, _apply, on_start)
    finally:
        with _LOCK:
            job.process, job.control = None, None
    if done is not None:
        _finish_done(job, done)
    else:
        if job.killed_at_shutdown:
            failure = worker.exit_reason(-signal.SIGKILL, True, SHUTDOWN_WAIT_S)
        _finish(job, "failed", f"training failed: {failure}")


def _run_worker(job: Job) -> None:
    """Starts the job's worker process, relays its progress until its pipe closes, and records how it ended."""
    threads = job.spec.threads or default_threads()
    if ray_jobs.ray_address():
        return _run_on_ray(job, threads)
    progress, progress_child = worker.SPAWN.Pipe(duplex=False)
    control_child, control = worker.SPAWN.Pipe(duplex=False)
    proc = worker.start_process(f"maesi-job-{job.id}", (job.spec, str(job.runs_dir), job.run_name, progress_child,
                                                         control_child, threads, os.getpid()))
    # Only the worker holds these ends now: its exit, however it happens, reads as the end of the pipe here.
    progress_child.close()
    control_child.close()
    with _LOCK:
        job.process, job.control = proc, control
    for wanted, request in ((job.stop_requested, "stop"), (job.interrupt_requested, "interrupt")):
        if wanted:  # asked for between the job's turn and its worker's start
            _tell(job, request)
    done = None
    while True:
        try:
            msg = progress.recv()
        except (EOFError, OSError):
            break
        if msg["kind"] == "done":
            done = msg
        else:
            _apply(job, msg)
    proc.join(30)
    if proc.is_alive():  # it sent its result but does not exit
        proc.kill()
        proc.join(5)
    with _LOCK:
        job.process, job.control = None, None
    control.close()
    progress.close()
    if done is not None:
        _finish_done(job, done)
    else:
        reason = worker.exit_reason(proc.exitcode, job.killed_at_shutdown, SHUTDOWN_WAIT_S)
        _finish(job, "failed", f"training failed: {reason}")


def _own(job: Job) -> None:
    """The server's side of one job (its `thread`)."""
    try:
        if _wait_for_turn(job):
            _run_worker(job)
    except Exception as e:  # noqa: BLE001: e.g. the worker could not be started; the server goes on
        from core.data.messages import plain

        with _LOCK:
            job.traceback_text = traceback.format_exc()
        traceback.print_exc()
        _finish(job, "failed", f"training failed: {plain(e)}")
    finally:
        with _TURN:
            _RUNNING.discard(job.id)
            if job.id in _QUEUE:
                _QUEUE.remove(job.id)
            _TURN.notify_all()
            if job.finished is None:
                job.finished = time.time()


def start(spec: JobSpec, runs_dir, owner: str = "") -> Job:
    """Queue `spec` for training in a worker process (it starts when the pool has a free slot); returns the
    registered job."""
    Path(runs_dir).mkdir(parents=True, exist_ok=True)
    with _LOCK:
        job = Job(id=next(_IDS), spec=spec, runs_dir=Path(runs_dir), owner=owner, run_name=spec.run_name())
        JOBS[job.id] = job
        _QUEUE.append(job.id)
    job.thread = threading.Thread(target=_own, args=(job,), name=f"maesi-job-{job.id}", daemon=True)
    job.thread.start()
    return job


def _tell(job: Job, request: str) -> None:
    """Sends "stop" or "interrupt" to the job's worker, if it has one (a queued job sees its flags instead)."""
    control = job.control
    if control is None:
        return
    try:  # a message this small is one atomic write: several threads may send without a lock
        control.send(request)
    except (OSError, ValueError):  # the worker has just ended (or the pipe was closed)
        pass


def stop(job_id: int, owner: Optional[str] = None) -> bool:
    """Ask a job to stop after its current step (its weights are kept and saved; a queued job leaves the queue).
    With `owner`, only that owner's job; returns whether a stop was requested."""
    job = JOBS.get(job_id)
    if job is None or (owner is not None and job.owner != owner):
        return False
    job.stop_requested = True
    _tell(job, "stop")
    with _TURN:
        _TURN.notify_all()
    return True

def active() -> list[Job]:
    return [j for j in list(JOBS.values()) if not j.done]


def of_owner(owner: str) -> list[Job]:
    """The jobs of one owner (every status), newest first; none for an empty token."""
    return sorted((j for j in list(JOBS.values()) if owner and j.owner == owner), key=lambda j: -j.id)


# ---------------------------------------------------------------- shutdowns

_SHUTDOWN: dict = {"how": None, "previous": {}}


def interrupt_all(timeout: float = SHUTDOWN_WAIT_S) -> list[Job]:
    """Interrupt every job (queued ones end at once) and wait (at most `timeout` s in all) until each running one
    has saved; a worker still busy then is killed, so that the server's exit is never held up longer."""
    running = active()
    for job in running:
        job.interrupt_requested = True
        _tell(job, "interrupt")
    deadline = time.monotonic() + timeout
    for job in running:
        if job.thread is not None and job.thread is not threading.current_thread():
            job.thread.join(max(0.0, deadline - time.monotonic()))
    for job in running:
        proc = job.process
        if proc is not None and proc.is_alive():
            job.killed_at_shutdown = True
            proc.kill()
            if job.thread is not None and job.thread is not threading.current_thread():
                job.thread.join(5.0)  # records it as failed, with the reason
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


def fmt_seconds(s: Optional[float]) -> str:
    if s is None or not math.isfinite(s):
        return "–"
    s = int(round(s))
    if s >= 3600:
        return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"
    return f"{s // 60}:{s % 60:02d}" if s >= 60 else f"{s}s"
