"""The Simplex explorer's edges in motion (app/simplex/edges.py) in a real headless Chromium (Debian's
/usr/bin/chromium driven by Playwright) on the embedded digits with the three shipped models compared: the user
asks for fewer frames with the keyboard on the slider, the page plays the animated GIF with that many frames, and
the GIF download button hands over a GIF with exactly that many frames, looping.

    .venv/bin/python -m pytest -m browser tests/test_browser_edges.py
"""
import io
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
import render_timing  # noqa: E402

CHROMIUM = render_timing.CHROMIUM

if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium (apt-get install -y chromium)",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright python package is not installed")
if not (ROOT / "checkpoints" / "manifest.json").exists():
    pytest.skip("checkpoints/manifest.json is missing: train the shipped checkpoints first", allow_module_level=True)

GIF_BUTTON = ".st-key-sx_motion_gif button:visible"  # a button with help is drawn twice, one hidden
PLAYER = ".st-key-sx_motion_player img"
SLIDER = ".st-key-sx_motion_frames input[type=range]"
DEFAULT_FRAMES, ASKED = 16, 7


def wait_for(condition, timeout: float = 60.0, every: float = 0.1) -> bool:
    end = time.time() + timeout
    while time.time() < end:
        if condition():
            return True
        time.sleep(every)
    return False


def settle(page) -> None:
    """Until no rerun is running and nothing is stale."""
    assert wait_for(lambda: page.locator(render_timing.LOADING).count() == 0, timeout=120)
    time.sleep(0.3)
    assert wait_for(lambda: page.locator(render_timing.LOADING).count() == 0, timeout=120)


def frames_of(data: bytes):
    from PIL import Image

    im = Image.open(io.BytesIO(data))
    return im.format, im.n_frames, im.info.get("loop"), im.info.get("duration")


def player_url(page, url: str) -> str:
    src = page.locator(PLAYER).first.get_attribute("src")
    return src if src.startswith("http") else url + "/" + src.lstrip("/")


def test_the_gif_download_has_as_many_frames_as_asked(tmp_path_factory):
    proc, url = render_timing.start_server(tmp_path_factory.mktemp("runs"),
                                           tmp_path_factory.mktemp("log") / "streamlit.log")
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=render_timing.CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1500, "height": 1400}, accept_downloads=True)
            page.goto(url + "/simplex")
            assert wait_for(lambda: page.locator(GIF_BUTTON).count() >= 1, timeout=240), "no GIF download button"
            settle(page)
            slider = page.locator(SLIDER)
            assert slider.input_value() == str(DEFAULT_FRAMES)
            slider.scroll_into_view_if_needed()
            slider.focus()
            for _ in range(DEFAULT_FRAMES - ASKED):
                page.keyboard.press("ArrowLeft")
            assert wait_for(lambda: slider.input_value() == str(ASKED), timeout=10)
            settle(page)
            # the page plays the animation: its image is the GIF itself, with the frames asked for
            assert wait_for(lambda: frames_of(page.request.get(player_url(page, url)).body())[1] == ASKED,
                            timeout=30), player_url(page, url)
            with page.expect_download(timeout=30_000) as info:
                page.locator(GIF_BUTTON).first.click()
            download = info.value
            assert download.suggested_filename == "maesi-edge-1-2.gif"
            saved = tmp_path_factory.mktemp("download") / download.suggested_filename
            download.save_as(saved)
            data = saved.read_bytes()
            assert data[:6] in (b"GIF87a", b"GIF89a")
            assert frames_of(data) == ("GIF", ASKED, 0, 120)  # the frames asked for, looping, 120 ms each
            browser.close()
    finally:
        render_timing.stop_server(proc)
