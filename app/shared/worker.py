"""The worker process of one training job: `app/shared/jobs.py` starts one per job (multiprocessing's `spawn`) and
this module trains it, in the child, exactly as the lab trained in a thread before: the paper's protocol
(`core.evaluation.runner.ProtocolRun`), the checkpoint with test metrics, and the training timeline
(`core.training.timeline`: the latents of a fixed, seeded sample of at most TIMELINE_SAMPLES test samples every
`timeline_every(epochs)` epochs).

Why a process per job: torch's threads, its global state and the GIL no longer compete with the Streamlit server
or with other jobs, and a crash or an out-of-memory kill ends only the job (the server reports it as failed).

The child talks to the server over two one-way pipes: progress (dicts with a "kind": status, begin, progress,
epoch, done) goes up, control ("stop", "interrupt") comes down and is read by a watchdog thread that only sets
flags, which the training callback checks every step. SIGTERM / SIGINT to the worker itself (a terminal's Ctrl-C
reaches the whole process group; a service manager may signal every process) interrupt it the same way. The end
of the control pipe means the server is gone: the job is interrupted, saves what it has and exits, at the latest
ORPHAN_EXIT_S later. The journal line is the server's (it also records the jobs that never reached a worker).
"""
from __future__ import annotations

import multiprocessing
import multiprocessing.spawn
import os
import signal
import threading
import time
import traceback
from dataclasses import replace
from pathlib import Path

from core.training.trainer import Callback

TIMELINE_SAMPLES = 1000  # test samples whose latents the timeline stores (anomalies keep their share)
TIMELINE_SNAPSHOTS = 20  # about this many snapshots per run: every max(1, epochs // 20) epochs
LIVE_POINTS = 1000  # per-step losses kept for the live chart (thinned by half whenever full)
PROGRESS_EVERY_S = 0.2  # step progress is sent at most this often (epochs and the end always)
ORPHAN_EXIT_S = 60.0  # a worker whose server is gone exits at the latest this long after noticing


def timeline_every(epochs: int) -> int:
    """Epochs between two timeline snapshots: about TIMELINE_SNAPSHOTS per run."""
    return max(1, int(epochs) // TIMELINE_SNAPSHOTS)


def thin_live(live: list, point) -> list:
    """`live` with `point` appended, halved when over LIVE_POINTS: the worker and the server both apply this, so
    their lists stay the same while only new points travel."""
    live.append(point)
    return live[::2] if len(live) > LIVE_POINTS else live


class Control:
    """What the server asked of this job. Plain attributes: set from a signal handler or the watchdog thread, read
    by the training loop (no lock a signal handler could deadlock on)."""

    def __init__(self):
        self.stop = False
        self.interrupt = False
        self.orphaned = False


class _Progress(Callback):
    def __init__(self, send, control: Control):
        self.send, self.control = send, control
        self.stop_training = False
        self.stride = 1  # record every stride-th step for the live chart
        self.batches = 1
        self.live: list = []  # mirrors the server's list, to know when it is thinned
        self.pending: list = []  # live points not sent yet
        self.last_sent = 0.0

    def on_train_begin(self, total_steps, epochs):
        self.batches = max(1, total_steps // max(1, epochs))
        self.send("begin", total_steps=total_steps, epochs=epochs)

    def on_step(self, info):
        if self.control.interrupt:
            # The trainer catches KeyboardInterrupt as an interruption: it restores the best (or last finished)
            # epoch's weights and returns with status "interrupted", which the job then saves.
            raise KeyboardInterrupt
        step = info.step + 1
        if info.losses and info.step % self.stride == 0:
            point = (step / self.batches, {k: float(v) for k, v in info.losses.items()})
            before = len(self.live)
            self.live = thin_live(self.live, point)
            self.pending.append(point)
            if len(self.live) < before:
                self.stride *= 2
        if time.monotonic() - self.last_sent >= PROGRESS_EVERY_S:
            self._flush(step, info.elapsed)
        if self.control.stop:
            self.stop_training = True

    def _flush(self, step: int, elapsed: float, eta=None) -> None:
        self.send("progress", step=step, elapsed=elapsed, eta=eta, live=self.pending)
        self.pending, self.last_sent = [], time.monotonic()

    def on_epoch(self, info):
        values = [(k, float(v)) for k, v in info.losses.items()] + [("loss_feat", info.loss_feat)]
        # the health figures, for the live health curves
        values += [(k, float(v)) for k, v in (info.figures or {}).items() if k != "loss_feat"]
        if self.pending:
            self.send("progress", step=None, elapsed=info.elapsed, eta=info.eta, live=self.pending)
            self.pending = []
        self.send("epoch", epoch=info.epoch + 1, elapsed=info.elapsed, eta=info.eta, values=values)


def free_path(folder: Path, name: str) -> Path:
    """folder/name, or folder/name-2, -3, ... when a run of that name exists (a save never overwrites)."""
    for n in range(1, 1000):
        candidate = folder / (name if n == 1 else f"{name}-{n}")
        if not candidate.with_name(candidate.name + ".json").exists():
            return candidate
    raise RuntimeError(f"too many runs named {name}")


def _prepare(spec, send, control: Control):
    """The protocol's split and the model to train, or None when interrupted meanwhile."""
    from core import MirroredAE
    from core.evaluation.runner import ProtocolRun

    send("status", message="loading data")
    if spec.user_data:  # a user's dataset: declared in this process too, from the options the form chose
        from core.data.registry import register_user_data
        from core.data.user_data import UserDataSource

        register_user_data(UserDataSource.from_record(spec.user_data))
    run = ProtocolRun.prepare(spec.dataset, spec.anomaly_class, seed=spec.seed, data_dir=spec.data_dir,
                              max_train=spec.max_train)
    if control.interrupt:
        return None, None
    kwargs = dict(spec.model_kwargs(), preset=spec.preset or run.preset)
    return run, MirroredAE(**kwargs, contamination=spec.contamination or run.contamination)


def _train_and_save(spec, runs_dir: Path, run_name: str, send, control: Control) -> dict:
    """Trains and saves the job; returns the "done" message's fields (status, message, metrics, path)."""
    from core.data.messages import plain
    from core.data.subsets import seeded_indices
    from core.training.timeline import TimelineCallback, save_timeline
    from core.training.trainer import TrainingDiverged

    run, model = _prepare(spec, send, control)
    if run is None:
        return dict(status="interrupted", message="interrupted before training began: nothing saved.")
    epochs = model.make_config().epochs
    sample = seeded_indices(len(run.split.X_test), TIMELINE_SAMPLES, spec.seed, stratify=run.split.y_test)
    timeline = TimelineCallback(model, run.split.X_test[sample], every=timeline_every(epochs))
    out = free_path(runs_dir, run_name)
    # The recorded command names no server folder: the run as runs/NAME, the data from $MAESI_DATA.
    command = replace(spec, data_dir=None).command(Path("runs") / out.name) + "  # trained in the maesi lab"
    send("status", message=f"training on {len(run.X_train)} samples")
    try:
        outcome = run.fit_and_evaluate(model, callbacks=[_Progress(send, control), timeline])
    except TrainingDiverged as e:
        return dict(status="diverged", message=f"{plain(e)} It diverged before its first finished epoch: nothing "
                                               "saved.")
    status = outcome["status"] if outcome["status"] in ("stopped", "diverged", "interrupted") else "completed"
    if status == "interrupted" and not getattr(model, "epochs_finished_", 0):
        return dict(status="interrupted", message="interrupted before its first finished epoch: nothing saved.")
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
    auc = f"AUC {metrics['auc']:.3f}" if metrics.get("auc") is not None else "no labelled anomaly, so no AUC"
    return dict(status=status, message=f"saved {Path(path).stem}: {auc}, health {verdict}{note}",
                metrics=metrics, path=str(path))


def job_outcome(spec, runs_dir, run_name: str, send, control: Control) -> dict:
    """Trains `spec`, saving into `runs_dir`; returns the "done" message's fields (a failure is one, with its
    reason). `send(kind, **fields)` carries the progress messages."""
    try:
        return _train_and_save(spec, Path(runs_dir), run_name, send, control)
    except Exception as e:  # noqa: BLE001: a failed job reports with its reason
        from core.data.messages import plain

        return dict(status="failed", message=f"training failed: {plain(e)}", traceback_text=traceback.format_exc())
    except KeyboardInterrupt:  # an interruption outside the trainer's loop (while preparing or evaluating)
        return dict(status="interrupted", message="interrupted outside training: nothing saved.")


def run_job(spec, runs_dir, run_name: str, send, control: Control) -> None:
    """Trains `spec` and ends with one "done" message."""
    send("done", **job_outcome(spec, runs_dir, run_name, send, control))


def _watch(control_conn, control: Control, parent_pid: int) -> None:
    """The worker's watchdog thread: the server's requests, and the server's end."""
    while True:
        try:
            if control_conn.poll(1.0):
                request = control_conn.recv()
                control.stop = control.stop or request == "stop"
                control.interrupt = control.interrupt or request == "interrupt"
                continue
        except (EOFError, OSError):
            pass
        else:
            if os.getppid() == parent_pid:
                continue
        return _orphan(control)


def _orphan(control: Control) -> None:
    """The server is gone (its end of a pipe closed, or this process was re-parented): keep the weights so far as
    "interrupted" and exit rather than train for nobody."""
    if not control.orphaned:
        control.orphaned = control.interrupt = True
        timer = threading.Timer(ORPHAN_EXIT_S, os._exit, args=(3,))
        timer.daemon = True
        timer.start()


# ---------------------------------------------------------------- the server's side: starting a worker

SPAWN = multiprocessing.get_context("spawn")  # torch and fork do not mix, and the server runs threads
_LAUNCHING = threading.local()
_PREPARATION = multiprocessing.spawn.get_preparation_data


def _preparation_without_main(name):
    """multiprocessing's preparation data, but for a maesi worker without the parent's __main__: under Streamlit
    that is the page script running at that moment (its ScriptRunner swaps sys.modules["__main__"]), which the
    child would run again; a worker needs only this module, found through sys.path."""
    data = _PREPARATION(name)
    if getattr(_LAUNCHING, "worker", False):
        data.pop("init_main_from_name", None)
        data.pop("init_main_from_path", None)
    return data


if not getattr(multiprocessing.spawn.get_preparation_data, "maesi", False):
    _preparation_without_main.maesi = True
    multiprocessing.spawn.get_preparation_data = _preparation_without_main  # other callers see no change


def start_process(name: str, args: tuple):
    """Starts `main(*args)` in a new spawned, daemonic process (it dies with the server's multiprocessing exit)."""
    proc = SPAWN.Process(target=main, name=name, args=args, daemon=True)
    _LAUNCHING.worker = True
    try:
        proc.start()
    finally:
        _LAUNCHING.worker = False
    return proc


def exit_reason(exitcode, killed_at_shutdown: bool = False, shutdown_wait_s: float = 60.0) -> str:
    """Why a worker process ended without sending its result, from its exit code, in plain words."""
    if exitcode is not None and exitcode < 0:
        signum = -exitcode
        if killed_at_shutdown:
            return f"the server's shutdown ended its worker before it saved (after {shutdown_wait_s:.0f} s)"
        if signum == signal.SIGKILL:
            return f"the worker process was killed (signal {signum}, maybe out of memory)"
        try:
            return f"the worker process ended on signal {signum} ({signal.Signals(signum).name})"
        except ValueError:
            return f"the worker process ended on signal {signum}"
    if exitcode:
        return f"the worker process exited with code {exitcode} (its traceback is in the server's log)"
    return "the worker process ended without a result"


def main(spec, runs_dir: str, run_name: str, progress_conn, control_conn, threads: int, parent_pid: int) -> None:
    """The worker process's entry (multiprocessing's target)."""
    import torch

    control = Control()

    def on_signal(signum, frame):
        control.interrupt = True

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    torch.set_num_threads(max(1, int(threads)))  # this process's own: the server's setting is not inherited

    def send(kind: str, **fields) -> None:
        try:
            progress_conn.send(dict(fields, kind=kind))
        except OSError:  # nobody reads any more
            _orphan(control)

    threading.Thread(target=_watch, args=(control_conn, control, parent_pid), name="maesi-job-watchdog",
                     daemon=True).start()
    run_job(spec, runs_dir, run_name, send, control)
    progress_conn.close()
