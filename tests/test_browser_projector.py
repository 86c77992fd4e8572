"""The Latent map's projector (app/latent_map/scatter_component.py, a custom component v2) in a real headless
Chromium (Debian's /usr/bin/chromium driven by Playwright) on the embedded digits with the three shipped models:
hovering a point shows its sample (a PNG) beside the pointer, two shift-clicks select both points (on every map,
once the server has them), and a click lists the point's nearest neighbours in latent space under the maps. The
component renders in an open shadow root, which Playwright's CSS locators pierce.

    .venv/bin/python -m pytest -m browser tests/test_browser_projector.py
"""
import json

import pytest

pytestmark = pytest.mark.browser

from browser_testing import lab_page, settle, wait_for, require_browser  # noqa: E402

require_browser()

MAPS = 3


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    with lab_page(tmp_path_factory) as (page, url):
        page.goto(url)
        assert wait_for(lambda: page.locator(".lmp").count() == MAPS
                        and page.locator(".lmp").nth(MAPS - 1).locator(".lmp-point").count() > 100,
                        timeout=180), "the maps did not render"
        settle(page, timeout=60)
        yield page




def selected(page, i: int = 0) -> list[int]:
    return json.loads(page.locator(".lmp").nth(i).get_attribute("data-selected") or "[]")


def top_points(page, n: int, apart: float = 12.0) -> list[tuple[float, float]]:
    """Centres of n points of the first map that no later-drawn point covers (the last ones drawn, far apart)."""
    points = page.locator(".lmp").first.locator(".lmp-point")
    points.first.scroll_into_view_if_needed()
    boxes = points.evaluate_all("els => els.map(e => { const r = e.getBoundingClientRect(); "
                                "return [r.x + r.width / 2, r.y + r.height / 2]; })")
    chosen, later = [], []
    for x, y in reversed(boxes):
        if all(abs(x - a) > apart or abs(y - b) > apart for a, b in later):
            chosen.append((x, y))
            if len(chosen) == n:
                return chosen
        later.append((x, y))
    raise AssertionError("no free points")


def test_hovering_a_point_shows_its_sample_beside_the_pointer(page):
    x, y = top_points(page, 1)[0]
    page.mouse.move(x - 30, y - 30)
    page.mouse.move(x, y, steps=4)
    tip = page.locator(".lmp-tip").first
    assert wait_for(lambda: tip.is_visible() and tip.locator("img").count() == 1, timeout=10)
    assert tip.locator("img").get_attribute("src").startswith("data:image/png;base64,")
    box = tip.bounding_box()
    assert abs(box["x"] - x) < 60 + box["width"] and abs(box["y"] - y) < 60 + box["height"]  # beside the pointer
    assert tip.inner_text().startswith("#")
    page.mouse.move(5, 5)
    assert wait_for(lambda: not tip.is_visible(), timeout=5)


def test_shift_clicks_select_two_points_on_every_map(page):
    (x1, y1), (x2, y2) = top_points(page, 2)
    page.mouse.click(x1, y1)
    first = selected(page)
    assert len(first) == 1
    page.keyboard.down("Shift")
    page.mouse.click(x2, y2)
    page.keyboard.up("Shift")
    both = selected(page)
    assert len(both) == 2 and both[0] == first[0]
    # the server has the selection: every map rings both, the anchors box offers them in that order
    assert wait_for(lambda: all(selected(page, i) == both for i in range(MAPS)), timeout=30)
    settle(page)
    assert page.locator(".lmp").first.locator(".lmp-point.selected").count() == 2
    assert page.locator(".st-key-map_anchors").inner_text().count("#") >= 2


def test_a_click_lists_the_points_nearest_neighbours(page):
    x, y = top_points(page, 3)[2]
    page.mouse.click(x, y)
    focus = page.locator(".lmp").first.get_attribute("data-focus")
    assert focus and selected(page) == [int(focus)]
    box = page.locator(".st-key-map_neighbours-0")
    assert wait_for(lambda: box.count() == 1 and f"nearest to #{focus}" in box.inner_text(), timeout=30)
    settle(page)
    assert box.inner_text().count("#") >= 9  # the point and its 8 neighbours
    assert box.locator("img").count() == 1  # their thumbnails
