"""The journal of finished training jobs: one JSON line per job in the runs folder's JOURNAL, written by the
server that owned the job (app/shared/jobs.py), so that the Models page can list what happened to the jobs of an
earlier server process (including those that ended before saving anything). `pid` is the server's: a server's
own jobs are listed live, not from here."""
from __future__ import annotations

import json
import os
import threading
import traceback
from pathlib import Path

JOURNAL = ".maesi-jobs.jsonl"  # a dot file: the checkpoint listing (core.checkpoints.manifest) never reads it
_LOCK = threading.Lock()  # one line at a time from this process's job threads


def write(job) -> None:
    """Appends the record of a finished job (a `jobs.Job`) to its runs folder's journal."""
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


def read(runs_dir, limit: int = 20, earlier_only: bool = True) -> list[dict]:
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
