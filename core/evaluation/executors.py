"""Executors that run the reproduction grid's cells elsewhere than in the driver process: `run_ray` spreads them over
a Ray cluster (or a Ray started on this machine). Same contract as `grid.run_local`: yield (cell, measured record)
in any order; the driver (grid.run_grid) alone writes the cell store and the report, so runs stay resumable and a
cell's numbers are those of the local executor (each worker runs `cells.measure`, the same code path).

Ray is optional: `pip install -r requirements-ray.txt`.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

RAY_MISSING = "the ray executor needs Ray: pip install -r requirements-ray.txt"
REPO_ROOT = Path(__file__).resolve().parents[2]
CPUS_ENV = "MAESI_RAY_NUM_CPUS"  # CPUs of a Ray started here (default: all of this machine's)

_worker_datasets: dict = {}  # per worker process: data dir -> DatasetCache, reused by the cells it runs


class RayNotInstalled(ImportError):
    pass


def import_ray():
    try:
        import ray
    except ImportError:
        raise RayNotInstalled(RAY_MISSING) from None
    return ray


def measure_cell(cell, budget, data_dir, device: str, threads: int) -> dict:
    """A cell's measured record, computed in a Ray worker (one torch thread per CPU it was given)."""
    import torch

    from core.evaluation.cells import DatasetCache, device_description, measure

    torch.set_num_threads(max(1, threads))
    datasets = _worker_datasets.setdefault(str(data_dir), DatasetCache(data_dir))
    record = measure(cell, budget, datasets, device)
    record["device"] = device_description(device)
    return record


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Raise ConnectionError, in one line, when nothing answers at a cluster address's host and port: Ray itself
    retries an unreachable address for minutes before it gives up. "auto" and addresses without a port are left
    to Ray."""
    import socket
    from urllib.parse import urlsplit

    if address in ("", "auto", "local"):
        return
    try:
        parts = urlsplit(address if "://" in address else f"ray-gcs://{address}")
        host, port = parts.hostname, parts.port
    except ValueError:
        raise ConnectionError(f"{address!r} is not a Ray address (host:port or ray://host:port)") from None
    if not host or not port:
        return
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError as e:
        raise ConnectionError(f"no Ray cluster answers at {address} ({e.strerror or type(e).__name__})") from None


def connect(address: str = ""):
    """Ray, joined to the cluster at `address` (checked first: a one-line ConnectionError when nothing answers),
    or started on this machine when `address` is empty; returns (ray, True when started here). Already joined:
    nothing changes. The cluster's workers must import this project (installed, or this checkout on their
    PYTHONPATH), as for the reproduction grid."""
    ray = import_ray()
    if ray.is_initialized():
        return ray, False
    if address:
        check_reachable(address)
        ray.init(address=address, log_to_driver=False)
        return ray, False
    # Local workers import `core` from this checkout, whatever their working directory.
    path = os.pathsep.join([str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    ray.init(num_cpus=int(os.environ.get(CPUS_ENV) or os.cpu_count() or 1), include_dashboard=False,
             log_to_driver=False, runtime_env={"env_vars": {"PYTHONPATH": path}})
    return ray, True


def _check_data_here(todo, opts) -> None:
    """Fail before any training when a dataset's files are missing (only checkable for a Ray on this machine)."""
    from core.data import load_dataset
    from core.data.registry import get_spec

    for name in dict.fromkeys(c.dataset for c, _ in todo):
        if not get_spec(name).is_present(opts.data_dir):
            load_dataset(name, data_dir=opts.data_dir)  # raises DatasetNotFoundError, which says what is missing


def _wants_gpu(ray, device: str) -> bool:
    if device.startswith("cuda"):
        return True
    return device == "auto" and ray.cluster_resources().get("GPU", 0) > 0


def run_ray(todo: list, opts) -> Iterator[tuple]:
    """Run each cell as a Ray task asking for `opts.threads` CPUs (and a GPU for a CUDA device); yield the cells'
    records as they finish. A task that fails records its error, as the local executor does; missing data files
    stop the grid."""
    import_ray()
    if not opts.address:
        _check_data_here(todo, opts)
    ray, started = connect(opts.address)
    try:
        task = ray.remote(measure_cell).options(num_cpus=max(1, opts.threads),
                                                num_gpus=1 if _wants_gpu(ray, opts.device) else 0,
                                                max_retries=0)
        refs = {task.remote(cell, b, opts.data_dir, opts.device, opts.threads): cell for cell, b in todo}
        pending = list(refs)
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                yield refs[done[0]], _result(ray, done[0])
        finally:
            for ref in pending:  # interrupted: finished cells are stored, the rest is dropped
                ray.cancel(ref, force=True)
    finally:
        if started:
            ray.shutdown()


def _result(ray, ref) -> dict:
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as e:
        cause = getattr(e, "cause", None)
        if isinstance(cause, FileNotFoundError):
            raise cause from None
        return {"error": f"{type(cause or e).__name__}: {cause or e}", "seconds": 0.0}
    except ray.exceptions.RayError as e:  # a worker or node died
        return {"error": f"{type(e).__name__}: {e}".splitlines()[0], "seconds": 0.0}
