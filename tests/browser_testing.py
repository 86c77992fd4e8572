"""What the real-browser tests share: the skip when Debian's chromium or Playwright is absent, a lab server with a
chromium page on it, and the waits (`wait_for`, `settle`). The server and the browser flags are bench/render_timing.py's,
so the tests and the benchmark drive the lab the same way."""
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
import render_timing  # noqa: E402

CHROMIUM = render_timing.CHROMIUM
LOADING = render_timing.LOADING
VIEWPORT = {"width": 1500, "height": 1400}


def require_browser():
    """Playwright's sync API, or a module-level skip naming what is missing (chromium, playwright, checkpoints)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium (apt-get install -y chromium)",
                    allow_module_level=True)
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright python package is not installed")
    if not (ROOT / "checkpoints" / "manifest.json").exists():
        pytest.skip("checkpoints/manifest.json is missing: train the shipped checkpoints first",
                    allow_module_level=True)
    return sync_api


@contextmanager
def lab_page(tmp_path_factory, **page_options):
    """(page, url): a lab server on a free loopback port with an empty runs folder, and a new chromium page (the
    caller opens the url, so that it can listen to the page first); both end with the block."""
    sync_api = require_browser()
    proc, url = render_timing.start_server(tmp_path_factory.mktemp("runs"),
                                           tmp_path_factory.mktemp("log") / "streamlit.log")
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=render_timing.CHROMIUM_ARGS)
            page = browser.new_page(viewport=VIEWPORT, **page_options)
            yield page, url
            browser.close()
    finally:
        render_timing.stop_server(proc)


def wait_for(condition, timeout: float = 60.0, every: float = 0.1) -> bool:
    """Whether `condition()` came true within `timeout` seconds, polled every `every` seconds."""
    end = time.time() + timeout
    while time.time() < end:
        if condition():
            return True
        time.sleep(every)
    return False


def settle(page, timeout: float = 120.0) -> None:
    """Until no rerun is running and nothing is stale (twice, a moment apart: a rerun may follow a rerun)."""
    assert wait_for(lambda: page.locator(LOADING).count() == 0, timeout=timeout)
    time.sleep(0.3)
    assert wait_for(lambda: page.locator(LOADING).count() == 0, timeout=timeout)
