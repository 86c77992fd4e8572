"""Training jobs on a Ray cluster: with MAESI_RAY_ADDRESS set (host:port of a cluster's head, ray://host:port for
Ray Client, or "auto"), `app/shared/jobs.py` hands each job to this module instead of a local worker process, so a
lab on a laptop can train on a cluster. The pool, the queue, ownership, Stop and the shutdown's "interrupted" save
are those of the local pool: only where the job runs changes.

A job is one Ray task (`train_remotely`, asking for the job's CPU threads) that runs the very code of a local
worker (`worker.job_outcome`) into a temporary folder of its node, then returns the run's files as bytes; the
server writes them into its runs folder (the sidecar last, so a listing never sees half a run). Progress and
control travel through a small `Relay` actor: the task pushes the worker's messages, the server drains them;
the server posts "stop" / "interrupt", a watchdog thread of the task polls them. A task that dies (its node lost,
killed for memory) fails its job with Ray's reason; the server goes on.

The cluster's workers must import this project and see the job's data: the server's data folder when it exists
on the node, else the node's own MAESI_DATA (the embedded digits need none). A user's own dataset is read from
the path the server recorded, so it must be reachable at that path on the cluster.
"""
from __future__ import annotations

import os
import tempfile
import threading
from dataclasses import replace
from pathlib import Path
from typing import Optional

ADDRESS_ENV = "MAESI_RAY_ADDRESS"
POLL_S = 0.25  # how often the server drains the relay, and how often a task reads its requests (x4)
_CONNECT_LOCK = threading.Lock()


def ray_address() -> str:
    """The cluster the lab's jobs train on ("" = local worker processes)."""
    return os.environ.get(ADDRESS_ENV, "").strip()


def connect():
    """Ray, joined to the cluster of MAESI_RAY_ADDRESS (once per server; a one-line error when unreachable)."""
    from core.evaluation.executors import connect as join

    with _CONNECT_LOCK:
        ray, _ = join(ray_address())
    return ray


class Relay:
    """The Ray actor between one job's task and the server: messages go up, requests come down."""

    def __init__(self):
        self.messages: list = []
        self.requests: list = []

    def push(self, message: dict) -> None:
        self.messages.append(message)

    def drain(self) -> list:
        out, self.messages = self.messages, []
        return out

    def post(self, request: str) -> None:
        self.requests.append(request)

    def requests_after(self, seen: int) -> list:
        return self.requests[seen:]


def _watch_requests(ray, relay, control, finished: threading.Event) -> None:
    """The task's watchdog: the server's "stop" / "interrupt" into the worker's flags, until the job ends. A relay
    that no longer answers means the server is gone: the job is interrupted and saves what it has."""
    seen = 0
    while not finished.wait(POLL_S * 4):
        try:
            requests = ray.get(relay.requests_after.remote(seen), timeout=30)
        except Exception:  # noqa: BLE001: the actor (and so the server's side) is gone
            control.orphaned = control.interrupt = True
            return
        seen += len(requests)
        control.stop = control.stop or "stop" in requests
        control.interrupt = control.interrupt or "interrupt" in requests


def train_remotely(spec, run_name: str, relay, threads: int) -> dict:
    """The Ray task of one job: trains as a local worker does, into a temporary folder; returns the "done" fields
    and the run's files ({name: bytes})."""
    import ray
    import torch

    from app.shared import worker

    torch.set_num_threads(max(1, int(threads)))
    if spec.data_dir and not Path(spec.data_dir).is_dir():  # the server's folder is not on this node
        spec = replace(spec, data_dir=None)
    control, finished = worker.Control(), threading.Event()

    def send(kind: str, **fields) -> None:
        relay.push.remote(dict(fields, kind=kind))  # one caller, one actor: Ray keeps their order

    threading.Thread(target=_watch_requests, args=(ray, relay, control, finished), daemon=True).start()
    with tempfile.TemporaryDirectory(prefix="maesi-job-") as folder:
        try:
            done = worker.job_outcome(spec, folder, run_name, send, control)
        finally:
            finished.set()
        files = {p.name: p.read_bytes() for p in Path(folder).iterdir() if p.is_file() and not p.name.startswith(".")}
    done["node"] = ray.get_runtime_context().get_node_id()[:8]
    return {"done": done, "files": files}


class RemoteControl:
    """What `jobs._tell` sends through: the relay's "post", in place of a pipe."""

    def __init__(self, relay):
        self.relay = relay

    def send(self, request: str) -> None:
        self.relay.post.remote(request)

    def close(self) -> None:
        pass


class RemoteTask:
    """What `jobs.interrupt_all` asks of a job's process: whether it still runs, and to end it."""

    def __init__(self, ray, ref):
        self.ray, self.ref = ray, ref

    def is_alive(self) -> bool:
        ready, _ = self.ray.wait([self.ref], timeout=0)
        return not ready

    def kill(self) -> None:
        self.ray.cancel(self.ref, force=True)


def store_files(runs_dir: Path, files: dict) -> None:
    """The run's files into the runs folder: weights and timeline first, the sidecar (which lists the run) last.
    Only plain names: the bytes come from another machine."""
    from core.checkpoints.durable import atomic_write_bytes

    for name in files:
        if Path(name).name != name or name.startswith("."):
            raise ValueError(f"the cluster sent a file named {name!r}: not stored")
    for name in sorted(files, key=lambda n: n.endswith(".json")):
        atomic_write_bytes(Path(runs_dir) / name, files[name])


def _failure(ray, error: Exception) -> str:
    cause = getattr(error, "cause", None) or error
    first = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
    if isinstance(error, ray.exceptions.TaskCancelledError):
        return "its Ray task was cancelled"
    return f"its Ray task failed ({type(cause).__name__}: {first})"


def run_on_ray(job, threads: int, apply, on_start) -> tuple[Optional[dict], str]:
    """Trains `job` as a Ray task; `apply(job, message)` takes each progress message, `on_start(process,
    control)` the task's handles. Returns (the "done" fields with `path` in the runs folder, "") or (None, why it
    failed)."""
    from app.shared.worker import free_path

    try:
        ray = connect()
    except Exception as e:  # noqa: BLE001: e.g. nothing answers at the address; the job fails, the server goes on
        from core.data.messages import plain

        return None, f"the Ray cluster at {ray_address()} could not be joined: {plain(e)}"
    name = free_path(job.runs_dir, job.run_name).name
    relay = ray.remote(Relay).options(num_cpus=0).remote()
    task = ray.remote(train_remotely).options(num_cpus=max(1, threads), max_retries=0)
    ref = task.remote(job.spec, name, relay, threads)
    on_start(RemoteTask(ray, ref), RemoteControl(relay))
    try:
        while not ray.wait([ref], timeout=POLL_S)[0]:
            for message in ray.get(relay.drain.remote()):
                apply(job, message)
        for message in ray.get(relay.drain.remote()):
            apply(job, message)
        result = ray.get(ref)
    except ray.exceptions.RayError as e:
        return None, _failure(ray, e)
    finally:
        ray.kill(relay)
    done = result["done"]
    if done.get("path"):
        store_files(job.runs_dir, result["files"])
        done["path"] = str(Path(job.runs_dir) / Path(done["path"]).name)
    done["message"] = f"{done['message']} (trained on Ray node {done.pop('node')})"
    return done, ""

