"""The Simplex explorer's edges in motion (app/simplex/edges.py) in a real headless Chromium (Debian's
/usr/bin/chromium driven by Playwright) on the embedded digits with the three shipped models compared: the user
asks for fewer frames with the keyboard on the slider, the page plays the animated GIF with that many frames, and
the GIF download button hands over a GIF with exactly that many frames, looping.

    .venv/bin/python -m pytest -m browser tests/test_browser_edges.py
"""
import io

import pytest

pytestmark = pytest.mark.browser

from browser_testing import lab_page, settle, wait_for, require_browser  # noqa: E402

require_browser()

GIF_BUTTON = ".st-key-sx_motion_gif button:visible"  # a button with help is drawn twice, one hidden
PLAYER = ".st-key-sx_motion_player img"
SLIDER = ".st-key-sx_motion_frames input[type=range]"
DEFAULT_FRAMES, ASKED = 16, 7




def download(page, button: str, name: str, tmp_path_factory):
    """Click `button`, check the file name the browser is handed, save the file; its path."""
    with page.expect_download(timeout=30_000) as info:
        page.locator(button).first.click()
    assert info.value.suggested_filename == name
    saved = tmp_path_factory.mktemp("download") / name
    info.value.save_as(saved)
    return saved


def frames_of(data: bytes):
    from PIL import Image

    im = Image.open(io.BytesIO(data))
    return im.format, im.n_frames, im.info.get("loop"), im.info.get("duration")


def player_url(page, url: str) -> str:
    src = page.locator(PLAYER).first.get_attribute("src")
    return src if src.startswith("http") else url + "/" + src.lstrip("/")


def test_the_gif_download_has_as_many_frames_as_asked(tmp_path_factory):
    with lab_page(tmp_path_factory, accept_downloads=True) as (page, url):
        page.goto(url + "/simplex?simplex_tab=Edges+in+motion")  # the tab's URL opens it
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
        data = download(page, GIF_BUTTON, "maesi-edge-1-2.gif", tmp_path_factory).read_bytes()
        assert data[:6] in (b"GIF87a", b"GIF89a")
        assert frames_of(data) == ("GIF", ASKED, 0, 120)  # the frames asked for, looping, 120 ms each


def test_a_figures_csv_download_is_written_when_clicked(tmp_path_factory):
    """The figures' CSV downloads are deferred (written on the click, not on every page run): the ROC page's
    still hands over every curve's points."""
    import csv

    button = ".st-key-roc-csv button:visible"
    with lab_page(tmp_path_factory, accept_downloads=True) as (page, url):
        page.goto(url + "/roc")
        assert wait_for(lambda: page.locator(button).count() >= 1, timeout=240), "no CSV download button"
        settle(page)
        rows = list(csv.DictReader(download(page, button, "roc-digits.csv", tmp_path_factory).open()))
        assert len(rows) > 10 and {"curve", "fpr", "tpr"} <= set(rows[0])
        assert all(0.0 <= float(r["fpr"]) <= 1.0 and 0.0 <= float(r["tpr"]) <= 1.0 for r in rows)
