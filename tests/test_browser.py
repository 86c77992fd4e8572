"""The lab in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright; never a downloaded
browser): a keyboard move of a simplex weight slider must change the decoded image, and every page must render
without an exception. Screenshots go to test-artifacts/ (git-ignored).

    .venv/bin/python -m pytest -m browser tests/test_browser.py
"""
import os
import socket
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
# url path and what each page shows once it has fully rendered
PAGES = {"latent_map": ("", ".js-plotly-plot", 3), "simplex": ("simplex", ".st-key-sx_decoded img", 1),
         "roc": ("roc", ".js-plotly-plot", 3), "score": ("score", '[data-testid="stFileUploader"]', 1),
         "models": ("models", '[data-testid="stDataFrame"]', 1)}
LOADING = ('[data-testid="stStatusWidget"], [data-stale="true"], [data-testid="stSkeleton"], '
           '[data-testid="stSkeletonElement"], [data-testid="stAppSkeleton"]')

if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium (apt-get install -y chromium)",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright python package is not installed")
if not (ROOT / "checkpoints" / "manifest.json").exists():
    pytest.skip("checkpoints/manifest.json is missing: train the shipped checkpoints first", allow_module_level=True)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = _free_port()
    env = dict(os.environ, OMP_NUM_THREADS="1", MAESI_RUNS=str(tmp_path_factory.mktemp("runs")))
    env.pop("MAESI_DATA", None)
    log = open(tmp_path_factory.mktemp("log") / "streamlit.log", "w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app/main.py", "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            if proc.poll() is not None:
                break
            try:
                if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read().strip() == b"ok":
                    break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("the streamlit server did not become healthy in 120 s")
        if proc.poll() is not None:
            log.seek(0)
            pytest.fail(f"streamlit exited with {proc.returncode}:\n{log.read()[-3000:]}")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


def wait_idle(page, ready: str = "h1", count: int = 1, timeout: float = 120.0) -> None:
    """Until the page shows `count` elements `ready` and nothing is running, stale or a loading skeleton."""
    end = time.time() + timeout
    while time.time() < end:
        if page.locator(ready).count() >= count and page.locator(LOADING).count() == 0:
            time.sleep(0.5)  # let the last figures paint
            if page.locator(LOADING).count() == 0:
                return
        time.sleep(0.25)
    raise AssertionError(f"the page did not finish rendering ({ready} x{count})")


def test_keyboard_on_a_weight_slider_changes_the_decoded_image(server, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1500, "height": 1500})
    page.goto(server + "/simplex")
    image = page.locator(".st-key-sx_decoded img")
    wait_idle(page, ".st-key-sx_decoded img")
    src_before = image.get_attribute("src")
    pixels_before = image.screenshot()
    slider = page.locator(".st-key-sx_w0 input[type=range]")
    value_before = float(slider.input_value())
    slider.focus()
    for _ in range(5):
        page.keyboard.press("ArrowRight")
        time.sleep(0.15)
    end = time.time() + 60
    while time.time() < end and image.get_attribute("src") == src_before:
        time.sleep(0.2)
    wait_idle(page, ".st-key-sx_decoded img")
    assert image.get_attribute("src") != src_before, "the decoded image did not change"
    assert image.screenshot() != pixels_before
    assert float(page.locator(".st-key-sx_w0 input[type=range]").input_value()) > value_before
    page.screenshot(path=str(ARTIFACTS / "simplex-after-keyboard.png"), full_page=True)
    page.close()


def test_a_click_in_the_barycentric_triangle_sets_the_weights(server, browser):
    page = browser.new_page(viewport={"width": 1500, "height": 1500})
    page.goto(server + "/simplex")
    wait_idle(page, "[class*=st-key-sx_ternary] .ternarylayer .points path", 50)
    point = page.locator("[class*=st-key-sx_ternary] .ternarylayer .points path").nth(5)
    point.scroll_into_view_if_needed()
    box = point.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x - 3, y - 3)
    page.mouse.move(x, y)  # plotly picks the clicked point from the hover
    time.sleep(0.3)
    page.mouse.click(x, y)
    values = lambda: [float(page.locator(f".st-key-sx_w{i} input[type=range]").input_value()) for i in range(3)]  # noqa: E731
    end = time.time() + 60
    while time.time() < end and values() == pytest.approx([0.33, 0.33, 0.33], abs=0.01):
        time.sleep(0.2)
    wait_idle(page, ".st-key-sx_decoded img")
    w = values()
    assert w != pytest.approx([0.33, 0.33, 0.33], abs=0.01), "the click did not set the weights"
    assert sum(w) == pytest.approx(1, abs=0.02) and min(w) >= 0
    page.close()


@pytest.mark.parametrize("name", list(PAGES))
def test_every_page_renders_in_chromium(server, browser, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1500, "height": 2200})
    path, ready, count = PAGES[name]
    page.goto(f"{server}/{path}")
    wait_idle(page, ready, count)
    assert page.locator('[data-testid="stException"]').count() == 0, page.locator(
        '[data-testid="stException"]').first.inner_text()
    page.screenshot(path=str(ARTIFACTS / f"page-{name}.png"), full_page=True)
    page.close()
