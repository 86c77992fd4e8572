"""The Simplex explorer's draggable simplex (app/simplex/drag_component.py, a custom component v2) in a real
headless Chromium (Debian's /usr/bin/chromium driven by Playwright): on the embedded digits with the three shipped
models compared, a drag across the triangle changes every model's preview (app/simplex/preview_component.py)
while the pointer moves, without the server (its exact decodes stay as they were until the release), then the
exact decodes follow the release, and the previews' tiles are not sent again; ten arrow-key presses at ten per
second all land; typed weights and the sliders stay in sync; m = 2 gives a segment. The component renders in an open shadow root, which Playwright's
CSS locators pierce. The release-to-exact-decode time goes to test-artifacts/simplex-drag.json.

    .venv/bin/python -m pytest -m browser tests/test_browser_simplex.py
"""
import json
import time

import pytest

pytestmark = pytest.mark.browser

from browser_testing import ROOT, lab_page, settle, wait_for, require_browser  # noqa: E402

require_browser()
ARTIFACTS = ROOT / "test-artifacts"

MODELS = 3  # the sidebar's default selection on the digits: no / 2-point / 3-point interpolation
PREVIEWS = ".sxd-preview img"  # inside the component's shadow root
EXACT = [f".st-key-sx_decoded-{i} img" for i in range(MODELS)]  # the server's exact decodes
# the component's triangle in its SVG's own units (drag_component.GEOMETRY[3]): top, bottom left, bottom right
VIEWBOX = (280, 286)
VERTICES = [(140, 56), (38, 232), (242, 232)]
FRAMES = []  # what the server sent over the websocket (protobuf ForwardMsgs)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    with lab_page(tmp_path_factory) as (page, url):
        page.on("websocket", lambda ws: ws.on("framereceived", lambda f: FRAMES.append(f)))
        page.goto(url + "/simplex")
        assert wait_for(lambda: page.locator(PREVIEWS).count() == MODELS
                        and page.locator(EXACT[-1]).count() == 1, timeout=240), "the explorer did not render"
        assert wait_for(lambda: all(src.startswith("data:image/png") for src in previews(page)))
        settle(page)
        yield page




def previews(page) -> list[str]:
    return page.locator(PREVIEWS).evaluate_all("els => els.map(e => e.getAttribute('src') || '')")


def exact(page) -> list[str]:
    return [page.locator(sel).get_attribute("src") for sel in EXACT]


def component_weights(page) -> list[float]:
    return json.loads(page.locator(".sxd").get_attribute("data-weights"))


def server_weights(page) -> list[float]:
    return [float(page.locator(f".st-key-sx_w{i} input[type=range]").input_value()) for i in range(3)]


def screen_point(page, w) -> tuple[float, float]:
    """Where the weights w lie on the component's triangle, in page pixels (the SVG keeps its aspect ratio)."""
    svg = page.locator(".sxd-svg")
    svg.scroll_into_view_if_needed()
    box = svg.bounding_box()
    scale = min(box["width"] / VIEWBOX[0], box["height"] / VIEWBOX[1])
    x0 = box["x"] + (box["width"] - VIEWBOX[0] * scale) / 2
    y0 = box["y"] + (box["height"] - VIEWBOX[1] * scale) / 2
    x = sum(wi * v[0] for wi, v in zip(w, VERTICES))
    y = sum(wi * v[1] for wi, v in zip(w, VERTICES))
    return x0 + x * scale, y0 + y * scale


def test_a_drag_moves_every_preview_at_once_and_the_release_decodes_exactly(page):
    ARTIFACTS.mkdir(exist_ok=True)
    exact_before = exact(page)
    start, end = (0.1, 0.1, 0.8), (0.1, 0.8, 0.1)  # from near anchor 3 across the triangle to near anchor 2
    path = [tuple(a + (b - a) * k / 8 for a, b in zip(start, end)) for k in range(9)]
    path[4] = (0.7, 0.15, 0.15)  # by way of anchor 1
    page.mouse.move(*screen_point(page, start))
    page.mouse.down()
    seen = [previews(page)]
    for w in path[1:]:
        page.mouse.move(*screen_point(page, w), steps=3)
        time.sleep(0.05)
        seen.append(previews(page))
    assert all(len(set(col)) >= 4 for col in zip(*seen)), "not every model's preview followed the pointer"
    assert "dragging" in page.locator(".sxd").get_attribute("class")
    assert page.locator(".sxd-tag", has_text="preview").count() == MODELS  # marked as previews
    assert exact(page) == exact_before, "the exact decodes changed before the release: a round trip per move?"
    page.screenshot(path=str(ARTIFACTS / "simplex-drag-during.png"))

    FRAMES.clear()
    t0 = time.perf_counter()
    page.mouse.up()
    assert wait_for(lambda: all(a != b for a, b in zip(exact(page), exact_before)), timeout=30, every=0.01), \
        "the exact decodes did not follow the release"
    release_to_exact = time.perf_counter() - t0
    w = component_weights(page)
    assert w == pytest.approx(end, abs=0.03) and sum(w) == pytest.approx(1)
    settle(page)
    assert server_weights(page) == pytest.approx(w, abs=0.006)  # the sliders follow the released weights
    # the rerun re-sent the previews' element unchanged, as a reference to the browser's copy: no tiles again
    resent = [len(f) for f in FRAMES if isinstance(f, bytes) and b"maesi_simplex_previews" in f]
    assert FRAMES and not resent, f"the previews' tiles were sent again: messages of {resent} bytes"
    assert component_weights(page) == w  # the rerun's data did not move the point back
    page.screenshot(path=str(ARTIFACTS / "simplex-drag-after.png"), full_page=True)
    (ARTIFACTS / "simplex-drag.json").write_text(json.dumps({"release_to_exact_decode_s": release_to_exact}))
    print(f"\nrelease to exact decode: {release_to_exact:.3f} s")


def test_ten_arrow_presses_at_ten_per_second_all_land(page):
    settle(page)
    before = component_weights(page)
    assert before[1] > 0.15, before  # room for ten steps toward anchor 3
    page.locator(".sxd").focus()
    shown = previews(page)
    for _ in range(10):
        page.keyboard.press("ArrowRight")  # + 0.01 to anchor 3, taken from anchor 2
        time.sleep(0.1)
    after = component_weights(page)
    assert after == pytest.approx([before[0], before[1] - 0.1, before[2] + 0.1], abs=1e-9), (before, after)
    assert previews(page) != shown, "the previews did not follow the keys"
    # the weights reach the server (250 ms after the last press) and its rerun leaves the point where it is
    assert wait_for(lambda: server_weights(page) == pytest.approx(after, abs=0.006), timeout=30), \
        (server_weights(page), after)
    settle(page)
    assert component_weights(page) == after
    page.keyboard.press("Shift+ArrowLeft")  # the larger step: 0.05 back to anchor 2
    assert component_weights(page) == pytest.approx([after[0], after[1] + 0.05, after[2] - 0.05], abs=1e-9)


def test_typed_weights_and_the_sliders_stay_in_sync(page):
    settle(page)
    box = page.locator(".sxd-weights input").nth(0)
    box.fill("0.5")
    box.press("Enter")  # w1 = 0.5, the others keep their proportions
    w = component_weights(page)
    assert w[0] == pytest.approx(0.5) and sum(w) == pytest.approx(1)
    assert wait_for(lambda: server_weights(page) == pytest.approx(w, abs=0.006), timeout=30)
    settle(page)
    # a slider moves the point: the server's change reaches the component through its data
    slider = page.locator(".st-key-sx_w2 input[type=range]")
    slider.focus()
    page.keyboard.press("ArrowRight")
    assert wait_for(lambda: component_weights(page) == pytest.approx(server_weights(page), abs=0.006)
                    and component_weights(page)[0] != pytest.approx(0.5), timeout=30), \
        (component_weights(page), server_weights(page))


def test_two_anchors_give_a_segment_that_drags_the_same_way(page):
    settle(page)
    page.locator(".st-key-sx_m label", has_text="2").click()
    assert wait_for(lambda: page.locator(".sxd-svg line").count() == 2 and page.locator(".sxd-weights input").count()
                    == 2 and len(previews(page)) == MODELS, timeout=120), "no segment for m = 2"
    settle(page)
    assert component_weights(page) == pytest.approx([0.5, 0.5])  # a new m starts at the centre
    line = page.locator(".sxd-svg line").nth(1).bounding_box()
    y = line["y"] + line["height"] / 2
    exact_before, shown = exact(page), previews(page)
    page.mouse.move(line["x"] + line["width"] * 0.5, y)
    page.mouse.down()
    page.mouse.move(line["x"] + line["width"] * 0.9, y, steps=4)
    assert all(a != b for a, b in zip(previews(page), shown)) and exact(page) == exact_before
    page.mouse.up()
    assert component_weights(page) == pytest.approx([0.1, 0.9], abs=0.02)
    assert wait_for(lambda: all(a != b for a, b in zip(exact(page), exact_before)), timeout=30)
