"""One prepared run for a session lent a GPU: training throughput of the image presets, the no-host-sync check, then
as much of the paper-budget MNIST grid as fits in the time left. Everything it measures lands in --out (JSON, a
Markdown table for README.md's "GPU" section, the grid's tables and log).

    python bench/gpu_check.py --out "$OUT" --data-dir shared/data          # on the GPU machine, < ~10 minutes
    python bench/gpu_check.py --dry-run --out /tmp/gpu-dry                 # CPU rehearsal with tiny sizes

Throughput is images per second of training (one E/G update per batch of `batch` images, after `critic_steps`
critic updates), measured after warm-up steps (which include torch.compile's compilation) with the GPU synchronised at
both ends, for the paper's MNIST (Table 2) and CIFAR-10 (Table 1) presets, both profiles, fp32 / bf16 /
bf16 + channels-last / bf16 + channels-last + compile. The grid part runs
`python -m core reproduce --experiment mnist --budget paper --device cuda` under a timeout; it is resumable, so
a later run continues it. The MNIST files must be in --data-dir (see shared/data/README.md); without them that
part is skipped.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from core.method.config import make_config  # noqa: E402
from core.method.networks import build_networks  # noqa: E402
from core.training.trainer import Trainer  # noqa: E402

PRESETS = {"mnist": (1, 28, 28), "cifar10": (3, 32, 32)}
OPTIONS = {"fp32": {}, "bf16": dict(bf16=True), "bf16+channels-last": dict(bf16=True, channels_last=True),
           "bf16+channels-last+compile": dict(bf16=True, channels_last=True, compile=True)}


def throughput(preset: str, profile: str, options: dict, device: torch.device, batch, seconds: float,
               warmup: int) -> dict:
    cfg = make_config(preset, profile=profile, interpolation=3, batch_size=batch)
    shape = PRESETS[preset]
    torch.manual_seed(0)
    trainer = Trainer(build_networks(cfg, shape).to(device), cfg, device, **options)
    x = torch.rand((cfg.batch_size,) + shape, device=device) * 2 - 1
    if trainer.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    t0 = time.perf_counter()
    for _ in range(warmup):
        trainer.step(x)
    sync(device)
    warm_s = time.perf_counter() - t0
    steps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds or steps < 3:
        trainer.step(x)
        steps += 1
        if steps % 5 == 0:
            sync(device)
    sync(device)
    dt = time.perf_counter() - t0
    return {"preset": preset, "profile": profile, "batch": cfg.batch_size, "critic_steps": cfg.critic_steps,
            "steps": steps,
            "images_per_s": steps * cfg.batch_size / dt, "ms_per_step": dt / steps * 1e3,
            "warmup_s": round(warm_s, 1)}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def no_host_sync(device: torch.device) -> str:
    """Three training steps under CUDA's sync debug mode "error": any host synchronisation raises."""
    if device.type != "cuda":
        return "skipped (no CUDA)"
    try:  # a failure here must not cost the throughput table and the grid
        cfg = make_config("mnist", interpolation=3)
        trainer = Trainer(build_networks(cfg, (1, 28, 28)).to(device), cfg, device, bf16=True)
        x = torch.rand(cfg.batch_size, 1, 28, 28, device=device) * 2 - 1
        trainer.step(x)
        sync(device)
    except Exception as e:  # noqa: BLE001
        return f"not run: the warm-up step failed ({type(e).__name__}: {e})"
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(3):
            trainer.step(x)
        return "passed: no host synchronisation in 3 steps"
    except RuntimeError as e:
        return f"FAILED: {e}"
    finally:
        torch.cuda.set_sync_debug_mode("default")


def run_grid(args, deadline: float, out: Path) -> dict:
    data = Path(args.data_dir) if args.data_dir else None
    if not args.dry_run and (data is None or not any(data.glob("**/train-images*"))):
        return {"skipped": f"no MNIST files under {data}"}
    left = int(deadline - time.time())
    if left < 60:
        return {"skipped": f"only {left}s left"}
    cmd = [sys.executable, "-m", "core", "reproduce", "--experiment", "digits" if args.dry_run else "mnist",
           "--budget", "smoke" if args.dry_run else "paper", "--device", "cuda" if not args.dry_run else "cpu",
           "--out", str(out / "grid"), *(["--data-dir", str(data)] if data else []), *args.grid_args]
    t0 = time.time()
    with open(out / "grid.log", "w") as log:
        try:
            rc = subprocess.run(["timeout", "--signal=INT", str(left), *cmd], stdout=log, stderr=subprocess.STDOUT,
                                env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))).returncode
        except FileNotFoundError:  # no coreutils timeout
            rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, timeout=left).returncode
    return {"command": " ".join(cmd), "returncode": rc, "seconds": round(time.time() - t0),
            "note": "124 = stopped by the time limit; finished cells are cached and the tables hold them"}


def markdown(rows: list[dict]) -> str:
    lines = ["| preset | profile | batch | options | images/s | ms/step | warm-up s |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['preset']} | {r['profile']} ({r['critic_steps']} critic steps) | {r['batch']} | "
                     f"{r['options']} | "
                     f"{r['images_per_s']:,.0f} | {r['ms_per_step']:.1f} | {r['warmup_s']} |")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=os.environ.get("OUT", "gpu-check"))
    p.add_argument("--data-dir", default=None)
    p.add_argument("--limit-s", type=float, default=540, help="wall-clock budget of the whole script")
    p.add_argument("--throughput-s", type=float, default=200, help="share of it for the throughput table")
    p.add_argument("--presets", nargs="+", default=list(PRESETS), choices=list(PRESETS))
    p.add_argument("--dry-run", action="store_true", help="CPU, tiny batches, 1 warm-up step, no compile")
    p.add_argument("grid_args", nargs="*", help="extra arguments for the grid (after --), e.g. --methods maesi-3pt")
    args = p.parse_args()
    deadline = time.time() + args.limit_s
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    device = torch.device("cpu" if args.dry_run else "cuda")
    report = {"device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu (dry run)",
              "torch": torch.__version__, "sync_check": no_host_sync(device), "throughput": []}
    print(report["sync_check"], flush=True)
    jobs = [(pr, prof, name) for pr in args.presets for prof in ("paper", "authors") for name in OPTIONS
            if not (args.dry_run and "compile" in name)]
    per_job = max(2.0, min(5.0, args.throughput_s / len(jobs) / 2))  # the other half: warm-up and compilation
    t_end = time.time() + args.throughput_s
    for preset, profile, name in jobs:
        if time.time() > t_end:
            print(f"throughput: out of time before {preset} {profile} {name}", flush=True)
            break
        try:
            row = throughput(preset, profile, OPTIONS[name], device, 8 if args.dry_run else None,
                             0.2 if args.dry_run else per_job, 1 if args.dry_run else 5)
        except Exception as e:  # noqa: BLE001: one failing option must not cost the others
            row = {"preset": preset, "profile": profile, "error": f"{type(e).__name__}: {e}"}
        row["options"] = name
        report["throughput"].append(row)
        print(json.dumps(row), flush=True)
        (out / "gpu_check.json").write_text(json.dumps(report, indent=1))
    report["grid"] = run_grid(args, deadline, out)
    print(json.dumps(report["grid"]), flush=True)
    (out / "gpu_check.json").write_text(json.dumps(report, indent=1))
    table = markdown([r for r in report["throughput"] if "error" not in r])
    (out / "throughput.md").write_text(table + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
