"""Training jobs in a real headless Chromium against a real Streamlit server (Debian's /usr/bin/chromium, driven
by Playwright; never a downloaded browser): a job started on the Models page is still this browser's after a page
reload (progress and Stop, through the owner cookie of app/shared/owner.py), and SIGTERM to the server keeps its best
weights so far as a run with training status "interrupted", its health record and its timeline.

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


def _start_server(runs: Path, log_path: Path):
    port = _free_port()
    env = dict(os.environ, OMP_NUM_THREADS="1", MAESI_RUNS=str(runs))
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
