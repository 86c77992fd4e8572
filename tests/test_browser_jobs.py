"""Training jobs in a real headless Chromium against a real Streamlit server (Debian's /usr/bin/chromium, driven
by Playwright; never a downloaded browser): a job started on the Models page is still this browser's after a page
reload (progress and Stop, through the owner cookie of app/shared/owner.py), and SIGTERM to the server keeps its best
weights so far as a run with training status "interrupted", its health record and its timeline. With
MAESI_MAX_JOBS=1 a second browser's job waits in line and says so, and SIGKILL to the first job's worker process
(what the kernel's out-of-memory killer sends) makes that job failed, with the reason, while the server goes on
serving and starts the queued one.

    .venv/bin/python -m pytest -m browser tests/test_browser_jobs.py
"""
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]

if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium (apt-get install -y chromium)",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright python package is not installed")
if not (ROOT / "checkpoints" / "manifest.json").exists():
    pytest.skip("checkpoints/manifest.json is missing: train the shipped checkpoints first", allow_module_level=True)


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server(runs: Path, log_path: Path, **extra_env):
    port = _free_port()
    env = dict(os.environ, OMP_NUM_THREADS="1", MAESI_RUNS=str(runs), **extra_env)
    env.pop("MAESI_DATA", None)
    log = open(log_path, "w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app/main.py", "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(240):
        if proc.poll() is not None:
            break
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read().strip() == b"ok":
                return proc, url, log
        except OSError:
            time.sleep(0.5)
    proc.kill()
    log.seek(0)
    pytest.fail(f"the streamlit server did not start:\n{log.read()[-3000:]}")


def _wait_for(page, predicate, what: str, timeout: float = 120.0) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return
        time.sleep(0.25)
    page.screenshot(path=str(ARTIFACTS / "jobs-timeout.png"), full_page=True)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_job_survives_a_reload_and_a_sigterm_keeps_it_as_interrupted(tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    runs = tmp_path / "runs"
    proc, url, log = _start_server(runs, tmp_path / "streamlit.log")
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url + "/models")
            page.get_by_role("tab", name="Train a model").click()  # the URL keeps the open tab: a reload too
            start = page.get_by_role("button", name="Start training")
            _wait_for(page, lambda: start.count() and start.is_enabled() and page.get_by_text("Estimated time").count(),
                      "the training form and its estimate")
            epochs = page.get_by_label("Epochs", exact=True)
            epochs.fill("400")
            epochs.press("Enter")
            _wait_for(page, lambda: epochs.input_value() == "400" and start.is_enabled(), "the epochs to be set")
            time.sleep(1.0)
            start.click()
            stop = page.get_by_role("button", name="Stop")
            _wait_for(page, lambda: stop.count() > 0, "the job's Stop button")
            _wait_for(page, lambda: re.search(r"epoch [1-9]\d*/400", page.inner_text("body")) is not None,
                      "a finished epoch")
            cookies = {c["name"]: c["value"] for c in page.context.cookies()}
            assert re.fullmatch(r"[0-9a-f]{32}", cookies.get("maesi_owner", "")), cookies

            page.reload()  # a new Streamlit session: the job must still be this browser's
            # (Streamlit's own toolbar has a "Stop" button while the script runs: wait for the job's section)
            _wait_for(page, lambda: "Job 1" in page.inner_text("body"), "the job's section after the reload")
            _wait_for(page, lambda: page.get_by_role("button", name="Stop").count() > 0, "Stop after the reload")
            assert "other users" not in page.inner_text("body")
            page.screenshot(path=str(ARTIFACTS / "jobs-after-reload.png"), full_page=True)
            browser.close()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    sidecars = list(runs.glob("*.json"))
    log_text = (tmp_path / "streamlit.log").read_text()
    assert len(sidecars) == 1, (sorted(p.name for p in runs.iterdir()), log_text[-3000:])
    meta = json.loads(sidecars[0].read_text())
    assert meta["training_status"] == "interrupted" and meta["health"]["verdict"]
    assert 1 <= len(meta["history"]["seconds"]) < 400
    assert (runs / (sidecars[0].stem + ".timeline.safetensors")).exists()
    assert "Traceback" not in log_text


def _workers(server_pid: int) -> list[int]:
    """The server's job worker processes (multiprocessing's spawned children, not its resource tracker)."""
    out = []
    for children in Path(f"/proc/{server_pid}/task").glob("*/children"):
        for pid in children.read_text().split():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if "spawn_main" in cmdline:
                out.append(int(pid))
    return out


def _start_job(page, url: str, epochs: str, klass: str | None = None) -> None:
    page.goto(url + "/models")
    page.get_by_role("tab", name="Train a model").click()
    start = page.get_by_role("button", name="Start training")
    _wait_for(page, lambda: start.count() and start.is_enabled() and page.get_by_text("Estimated time").count(),
              "the training form and its estimate")
    field = page.get_by_label("Epochs", exact=True)
    field.fill(epochs)
    field.press("Enter")
    _wait_for(page, lambda: field.input_value() == epochs and start.is_enabled(), "the epochs to be set")
    time.sleep(1.0)
    start.click()
    _wait_for(page, lambda: "Job " in page.inner_text("body") and page.get_by_role("button", name="Stop").count(),
              "the job's card")


def test_a_second_job_queues_and_a_killed_worker_fails_while_the_server_serves(tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    runs = tmp_path / "runs"
    proc, url, log = _start_server(runs, tmp_path / "streamlit.log", MAESI_MAX_JOBS="1")
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            first = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            _start_job(first, url, "400")
            _wait_for(first, lambda: re.search(r"epoch [1-9]\d*/400", first.inner_text("body")) is not None,
                      "a finished epoch of the first job")
            second = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()  # another browser
            _start_job(second, url, "2")
            _wait_for(second, lambda: "queued, 1st in line" in second.inner_text("body"), "the second job's place")
            workers = _workers(proc.pid)
            assert len(workers) == 1, workers
            os.kill(workers[0], signal.SIGKILL)
            _wait_for(first, lambda: "the worker process was killed (signal 9, maybe out of memory)"
                      in first.inner_text("body"), "the first job reported failed with its reason")
            assert "failed" in first.inner_text("body")
            _wait_for(second, lambda: re.search(r"saved digits-\S+: AUC", second.inner_text("body")) is not None,
                      "the queued job to run and save its run", timeout=180)
            assert urllib.request.urlopen(url + "/_stcore/health", timeout=5).read().strip() == b"ok"
            second.screenshot(path=str(ARTIFACTS / "jobs-queue-after-kill.png"), full_page=True)
            browser.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
            log.close()
    assert len(list(runs.glob("*.json"))) == 1  # the second job's run; the killed one saved nothing
    assert "Traceback" not in (tmp_path / "streamlit.log").read_text()
