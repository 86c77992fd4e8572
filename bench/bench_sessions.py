"""Page render times with several sessions at once (issue 11 #6: target < 5 s per page with 5 concurrent sessions
on 2 idle cores). Informational: nothing is asserted.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_sessions.py [--sessions 5] [--rounds 2] [--browser]
    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_sessions.py --job-speed
    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_sessions.py --jobs 6 [--job-epochs 3]

`--job-speed` (issue 19): the 3-epoch 300-sample digits job through the lab's job API (app/shared/jobs.py: a
worker process of the pool, 1 CPU thread) against `python -m core train --threads 1` of the same run, both timed
from the request to the saved run (each includes starting a Python process and importing torch), plus the
training time each reports.

`--jobs N` (issue 19 #8): N headless Chromium sessions each open the Models page and press "Start training" at the
same moment (the form's defaults, `--job-epochs` epochs); then, while the jobs train or wait in line, rounds of
bare-websocket loads of every page, until every job has ended. Prints what each browser was told (training, or its
place in the queue), the page times under that load, and how many jobs ended in which state.

Starts its own Streamlit server (an empty runs folder, no data dir: the bundled digits and the shipped
checkpoints). For each page: one cold load (the server computes and caches latents, projections, scores), then
`--rounds` rounds of `--sessions` new sessions loading that page at the same moment, then as many sessions each
on a different page.

Server side (default): each session is a bare websocket client speaking Streamlit's protocol, as a browser's
first connection does; a time runs from the request to run the page to the server's "script finished", so it
holds the page script, the caches, the serialisation of every element and the transfer, but no browser work.
`--browser`: each session is a headless Chromium context (Debian's /usr/bin/chromium through Playwright) and a
time runs to the page's main content rendered and idle; the browsers then share the machine's cores with the
server, so on 2 cores this mostly measures Chromium drawing Plotly.

Prints the load average: on a machine busy with other work the times say as much about that work as the lab.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
PAGES = {"latent_map": ("", ".lmp-point", 3), "simplex": ("simplex", "[class*=\"st-key-sx_decoded\"] img", 1),
         "roc": ("roc", ".js-plotly-plot", 3), "score": ("score", '[data-testid="stFileUploader"]', 1),
         "models": ("models", '[data-testid="stDataFrame"]', 1)}
LOADING = ('[data-testid="stStatusWidget"], [data-stale="true"], [data-testid="stSkeleton"], '
           '[data-testid="stSkeletonElement"], [data-testid="stAppSkeleton"]')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, runs: str = "") -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"),
               MAESI_RUNS=runs or tempfile.mkdtemp(prefix="maesi-bench-runs-"))
    env.pop("MAESI_DATA", None)
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app/main.py", "--server.headless", "true",
                             "--server.address", "127.0.0.1", "--server.port", str(port),
                             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(240):
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).read().strip() == b"ok":
                return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("the streamlit server did not start")


async def load(browser, url: str, page_name: str, timeout: float = 300.0) -> float:
    """Seconds from navigation to the page rendered and idle, in a fresh browser session."""
    path, ready, count = PAGES[page_name]
    context = await browser.new_context(viewport={"width": 1500, "height": 2200})
    page = await context.new_page()
    t0 = time.perf_counter()
    await page.goto(f"{url}/{path}")
    end = t0 + timeout
    try:
        while time.perf_counter() < end:
            if await page.locator(ready).count() >= count and await page.locator(LOADING).count() == 0:
                await asyncio.sleep(0.3)
                if await page.locator(LOADING).count() == 0:
                    if await page.locator('[data-testid="stException"]').count():
                        print(f"  ! {page_name}: an exception is shown")
                    return time.perf_counter() - t0 - 0.3
            await asyncio.sleep(0.1)
        return float("inf")
    finally:
        await context.close()


async def load_bare(url: str, page_name: str) -> float:
    """Seconds from asking the server to run a page to its "script finished", over a new websocket session."""
    import websockets
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    ws_url = url.replace("http://", "ws://") + "/_stcore/stream"
    async with websockets.connect(ws_url, max_size=None, subprotocols=["streamlit"]) as ws:
        request = BackMsg()
        request.rerun_script.query_string = ""
        request.rerun_script.page_name = PAGES[page_name][0]
        t0 = time.perf_counter()
        await ws.send(request.SerializeToString())
        while True:
            msg = ForwardMsg()
            msg.ParseFromString(await ws.recv())
            if msg.WhichOneof("type") == "script_finished":
                if msg.script_finished != ForwardMsg.FINISHED_SUCCESSFULLY:
                    print(f"  ! {page_name}: the script ended with status {msg.script_finished}")
                return time.perf_counter() - t0


def fmt(times) -> str:
    return (f"median {statistics.median(times):5.1f} s, max {max(times):5.1f} s  "
            f"[{', '.join(f'{t:.1f}' for t in times)}]")


async def main_async(args) -> None:
    if args.browser:
        from playwright.async_api import async_playwright
    port = free_port()
    proc = start_server(port)
    url = f"http://127.0.0.1:{port}"
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    try:
        if args.browser:
            async with async_playwright() as p:
                browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox",
                                                                                    "--disable-gpu"])
                await measure(args, lambda name: load(browser, url, name), "Chromium sessions")
                await browser.close()
        else:
            await measure(args, lambda name: load_bare(url, name), "server side")
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


async def measure(args, load_page, label: str) -> None:
    print(f"{label}:")
    for name in PAGES:
        print(f"  {name:<11} cold, 1 session: {await load_page(name):5.1f} s")
    for name in PAGES:
        times = []
        for _ in range(args.rounds):
            times += await asyncio.gather(*(load_page(name) for _ in range(args.sessions)))
        print(f"  {name:<11} warm, {args.sessions} at once: {fmt(times)}")
    names = [list(PAGES)[i % len(PAGES)] for i in range(args.sessions)]
    print(f"  mixed pages, {args.sessions} at once: {fmt(await asyncio.gather(*(load_page(n) for n in names)))}")


async def start_job(browser, url: str, epochs: int):
    """A fresh browser session on the Models page, the epochs set, "Start training" pressed; returns the page."""
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    await page.goto(f"{url}/models")
    start = page.get_by_role("button", name="Start training")
    while not (await start.count() and await start.is_enabled() and await page.get_by_text("Estimated time").count()):
        await asyncio.sleep(0.25)
    field = page.get_by_label("Epochs", exact=True)
    await field.fill(str(epochs))
    await field.press("Enter")
    while not (await field.input_value() == str(epochs) and await start.is_enabled()):
        await asyncio.sleep(0.25)
    await asyncio.sleep(1.0)
    return page, start


async def told(page) -> str:
    """What the browser says about its own job, once its section shows."""
    import re

    for _ in range(600):
        body = await page.inner_text("body")
        if re.search(r"Job \d+", body):
            queued = re.search(r"queued, \d+\w* in line", body)
            return queued.group(0) if queued else "training"
        await asyncio.sleep(0.25)
    return "no job section after 150 s"


async def jobs_under_load(args) -> None:
    from playwright.async_api import async_playwright

    runs = tempfile.mkdtemp(prefix="maesi-bench-runs-")
    port = free_port()
    proc = start_server(port, runs)
    url = f"http://127.0.0.1:{port}"
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; {args.jobs} jobs, "
          f"{args.job_epochs} epochs each")
    try:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox",
                                                                                "--disable-gpu"])
            ready = await asyncio.gather(*(start_job(browser, url, args.job_epochs) for _ in range(args.jobs)))
            t0 = time.perf_counter()
            await asyncio.gather(*(start.click() for _, start in ready))
            for i, state in enumerate(await asyncio.gather(*(told(page) for page, _ in ready)), 1):
                print(f"  browser {i}: {state}")
            for page, _ in ready:
                await page.context.close()
            await browser.close()
        times, journal = [], Path(runs) / JOURNAL
        while time.perf_counter() - t0 < args.job_timeout:
            times += await asyncio.gather(*(load_bare(url, name) for name in PAGES))
            ended = journal.read_text().splitlines() if journal.exists() else []
            if len(ended) >= args.jobs:
                break
        print(f"  every page, rounds while the jobs ran: {fmt(times)}")
        ended = [__import__("json").loads(line) for line in journal.read_text().splitlines()] if journal.exists() else []
        states = statistics.multimode([e.get("status") for e in ended]) if ended else []
        print(f"  {len(ended)} of {args.jobs} jobs ended in {time.perf_counter() - t0:.0f} s; "
              f"statuses {sorted(e.get('status') for e in ended)} (most: {states})")
    finally:
        proc.terminate()
        proc.wait(timeout=90)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


JOURNAL = ".maesi-jobs.jsonl"  # app/shared/job_journal.JOURNAL (the bench imports no app code into the client)
JOB = dict(dataset="digits", anomaly_class=0, interpolation=3, epochs=3, max_train=300, seed=0)


def job_speed() -> None:
    """Prints the wall time of the same small run through the job API and through the CLI."""
    sys.path.insert(0, str(ROOT))
    from app.shared import jobs

    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="maesi-bench-jobs-") as folder:
        t0 = time.perf_counter()
        job = jobs.start(jobs.JobSpec(**JOB, threads=1), Path(folder) / "runs")
        job.thread.join()
        api_s = time.perf_counter() - t0
        print(f"job API: {api_s:5.1f} s to the saved run ({job.status}; training {job.elapsed:.1f} s)")
        args = [sys.executable, "-m", "core", "train", "--dataset", JOB["dataset"], "--anomaly-class",
                str(JOB["anomaly_class"]), "--interpolation", str(JOB["interpolation"]), "--epochs",
                str(JOB["epochs"]), "--max-train", str(JOB["max_train"]), "--seed", str(JOB["seed"]), "--threads", "1",
                "--out", str(Path(folder) / "cli-run")]
        t0 = time.perf_counter()
        done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
        cli_s = time.perf_counter() - t0
        trained = next((line for line in done.stdout.splitlines() if line.startswith("test AUC")), done.stderr[-300:])
        print(f"CLI --threads 1: {cli_s:5.1f} s to the saved run ({trained.strip()})")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sessions", type=int, default=5)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--browser", action="store_true", help="sessions in headless Chromium instead of bare websockets")
    p.add_argument("--job-speed", action="store_true", help="time a small job through the job API and the CLI")
    p.add_argument("--jobs", type=int, default=0, help="start this many jobs from as many browsers, then load pages")
    p.add_argument("--job-epochs", type=int, default=3)
    p.add_argument("--job-timeout", type=float, default=900.0, help="seconds to wait for every job to end")
    args = p.parse_args(argv)
    if args.jobs:
        asyncio.run(jobs_under_load(args))
    elif args.job_speed:
        job_speed()
    else:
        asyncio.run(main_async(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
