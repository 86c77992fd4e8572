"""Warm page renders of the lab in a real browser (Debian's chromium driven by Playwright), shared by
`bench/bench_app.py` and `tests/test_browser.py`.

A page counts as rendered when its LAST elements are on screen (each page's `ready` conditions below: its final
images, charts or expander) and nothing is running, stale or a loading skeleton. "Warm": the server's caches
already hold the page's models, scores and projections (each page is visited once before timing).

Two timings per page: `navigate` (a click on the page's link in the sidebar: the app is open, what a user does
between pages) and `reload` (a full browser load of the page's URL: a new session, the front end booted again).
"""
from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
LOADING = ('[data-testid="stStatusWidget"], [data-stale="true"], [data-testid="stSkeleton"], '
           '[data-testid="stSkeletonElement"], [data-testid="stAppSkeleton"]')
# page: (url path, title of its link and h1, [(selector, count) of its last elements])
# each page's ready elements as it opens: the pages with lazy tabs (Simplex, ROC, Models) draw their first tab
PAGES = {
    "latent_map": ("", "Latent map", [(".lmp-svg:has(.lmp-point)", 3), ('[data-testid="stExpander"]', 1)]),
    "simplex": ("simplex", "Simplex explorer", [(".js-plotly-plot", 3), ('[data-testid="stImage"]', 6),
                                                (".sxd-svg", 1)]),
    "roc": ("roc", "ROC and ablation", [(".js-plotly-plot", 1), ('[data-testid="stTab"]', 3)]),
    "claims": ("claims", "Paper claims", [('[data-testid="stDataFrame"]', 1), ('[data-testid="stImage"]', 3)]),
    "score": ("score", "Score your data", [('[data-testid="stFileUploader"]', 1)]),
    "models": ("models", "Models", [('[data-testid="stDataFrame"]', 1), (".js-plotly-plot", 2)]),
}
# the lazy tabs of a page, each with the elements it draws (found by their keys: the tab they replace may show
# elements of the same kind); the first tab is the page's own ready state (PAGES)
TABS = {
    "simplex": [("Decoded mosaic", [('[class*="st-key-sx_mosaic-"] .js-plotly-plot', 3)]),
                ("Along the edges", [('[data-testid="stImage"]', 9)]),
                ("Edges in motion", [(".st-key-sx_motion_player img", 1)])],
    "roc": [("Per class", [(".st-key-auc_bars .js-plotly-plot", 1), ('[data-testid="stDataFrame"]', 1)]),
            ("Threshold and samples (Fig. 4)", [(".st-key-hist .js-plotly-plot", 1)])],
    "models": [("Train a model", [(".st-key-train_start button", 1)]),
               ("Your data", [(".st-key-own_upload", 1)]),
               ("Upload a checkpoint", [(".st-key-models_upload", 1)])],
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(runs_dir: str, log_path: str, launcher: bool = False) -> tuple[subprocess.Popen, str]:
    """A headless lab server on a free port (one torch thread, no data dir, `runs_dir` as MAESI_RUNS), started
    in the repository root so that `.streamlit/config.toml` applies; returns (process, url) once healthy.
    launcher: through `python -m app` (the libraries imported before the server answers) instead of
    `streamlit run app/main.py`. The seconds from the start to healthy are `process.healthy_after`."""
    port = free_port()
    env = dict(os.environ, OMP_NUM_THREADS="1", MAESI_RUNS=str(runs_dir))
    env.pop("MAESI_DATA", None)
    log = open(log_path, "w+")
    command = [sys.executable, "-m", "app"] if launcher else [sys.executable, "-m", "streamlit", "run", "app/main.py"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        command + ["--server.headless", "true", "--server.address", "127.0.0.1", "--server.port", str(port),
                   "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(240):
        if proc.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"streamlit exited with {proc.returncode}:\n{log.read()[-3000:]}")
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read().strip() == b"ok":
                proc.healthy_after = time.perf_counter() - t0
                return proc, url
        except OSError:
            time.sleep(0.5)
    proc.terminate()
    raise RuntimeError("the streamlit server did not become healthy in 120 s")


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def rendered_at(page, title: str, ready: list, timeout: float = 120.0) -> float:
    """perf_counter() when the page titled `title` shows all its `ready` elements and nothing is loading."""
    end = time.perf_counter() + timeout
    while time.perf_counter() < end:
        h1 = page.locator("h1")
        if (h1.count() and h1.first.inner_text().startswith(title)
                and all(page.locator(sel).count() >= n for sel, n in ready)
                and page.locator(LOADING).count() == 0):
            return time.perf_counter()
        time.sleep(0.03)
    raise AssertionError(f"{title}: the page did not finish rendering {ready}")


# The same test as `rendered_at`, run in the page on every animation frame (the components' shadow roots searched
# too, as Playwright's CSS does): it returns the page's clock (performance.now(), ms) on the first frame that shows the
# page drawn and stays so for STEADY_MS. Timed in the page, not by polling from the test process: on a 2-core machine a test process that
# asks the browser five questions every 30 ms takes CPU from the server and the browser it is timing.
STEADY_MS = 250
DRAWN = """([title, ready, loading]) => {
  // cheap on purpose, as it runs on every frame of what it times: the components' shadow roots are found by
  // their hosts' test id (not by visiting every element), and the title is read without forcing a layout
  const deep = (sel) => {
    let n = document.querySelectorAll(sel).length;
    for (const host of document.querySelectorAll('[data-testid="stBidiComponentIsolated"]'))
      if (host.shadowRoot) n += host.shadowRoot.querySelectorAll(sel).length;
    return n;
  };
  const drawn = () => {
    const h1 = document.querySelector("h1");
    if (!h1 || !h1.textContent.trim().startsWith(title)) return false;
    for (const [sel, n] of ready) if (deep(sel) < n) return false;
    return deep(loading) === 0;
  };
  // the first frame of a run of drawn frames that lasts STEADY ms: a page change can show the new title over
  // the old page's elements for a frame or two before Streamlit marks them stale
  const now = performance.now();
  if (!drawn()) { window.__benchDrawnSince = null; return false; }
  if (window.__benchDrawnSince == null) window.__benchDrawnSince = now;
  return now - window.__benchDrawnSince >= STEADY ? window.__benchDrawnSince : false;
}"""
CLICK_CLOCK = """() => {
  window.__benchClick = null;
  window.addEventListener("click", () => { if (window.__benchClick === null) window.__benchClick = performance.now(); },
                          {capture: true, once: true});
}"""


def drawn_at(page, title: str, ready: list, timeout: float = 120.0) -> float:
    """The page's clock (ms since its navigation started) on the first frame showing the page titled `title`
    with all its `ready` elements and nothing loading (DRAWN)."""
    page.evaluate("() => { window.__benchDrawnSince = null; }")
    return float(page.wait_for_function(DRAWN.replace("STEADY", str(STEADY_MS)),
                                        arg=[title, [list(r) for r in ready], LOADING], polling="raf",
                                        timeout=timeout * 1000).json_value())


def _nav_link(page, title: str):
    return page.locator('[data-testid="stSidebarNav"] a', has_text=title).first


def navigate_and_time(page, title: str, ready: list, timeout: float = 120.0) -> float:
    """Seconds from the click on the page's sidebar link (the click event, in the page) to the first frame that
    shows the page drawn (`drawn_at`): a page change is client-side, so both times are on one page clock."""
    page.evaluate(CLICK_CLOCK)
    _nav_link(page, title).click()
    done = drawn_at(page, title, ready, timeout)
    return (done - page.evaluate("() => window.__benchClick")) / 1000


def tab_and_time(page, title: str, tab: str, ready: list, timeout: float = 120.0) -> float:
    """Seconds from the click on a lazy tab (the click event, in the page) to the first frame showing it drawn."""
    page.evaluate(CLICK_CLOCK)
    page.locator('[data-testid="stTab"]', has_text=tab).first.click()
    done = drawn_at(page, title, ready, timeout)
    return (done - page.evaluate("() => window.__benchClick")) / 1000


def tab_change_times(browser, url: str, repeats: int = 3, tabs=TABS, viewport=(1500, 1400)) -> dict:
    """{"page: tab": median s} of a click on each lazy tab of each page, then back on its first tab, the page
    opened once before (warm)."""
    page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
    times = {}
    try:
        for name, page_tabs in tabs.items():
            path, title, ready = PAGES[name]
            page.goto(f"{url}/{path}")
            rendered_at(page, title, ready, timeout=300)
            first = page.locator('[data-testid="stTab"]').first.inner_text().strip()
            for _ in range(repeats):
                for tab, tab_ready in list(page_tabs) + [(first, ready)]:
                    times.setdefault(f"{name}: {tab}", []).append(tab_and_time(page, title, tab, tab_ready))
                    time.sleep(0.3)
        return {k: statistics.median(v) for k, v in times.items()}
    finally:
        page.close()


def warm_render_times(browser, url: str, repeats: int = 3, pages=PAGES, viewport=(1500, 1400),
                      kinds=("navigate", "reload")) -> dict:
    """{page: {kind: median s}} of warm renders, kind "navigate" and/or "reload" (see the module's docstring),
    timed in the page (`drawn_at`): navigate from the click event, reload from the navigation's start."""
    page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
    try:
        for path, title, ready in pages.values():  # warm the server's caches, once per page
            page.goto(f"{url}/{path}")
            rendered_at(page, title, ready, timeout=300)
        times = {name: {kind: [] for kind in kinds} for name in pages}
        for _ in range(repeats):
            for name, (path, title, ready) in pages.items() if "reload" in kinds else ():
                page.goto(f"{url}/{path}")
                times[name]["reload"].append(drawn_at(page, title, ready) / 1000)
                time.sleep(0.3)
            navigations = list(pages.items())[1:] + list(pages.items())[:1] if "navigate" in kinds else []
            for name, (path, title, ready) in navigations:  # from the page before it in the list
                times[name]["navigate"].append(navigate_and_time(page, title, ready))
                time.sleep(0.3)
        return {name: {kind: statistics.median(v) for kind, v in t.items()} for name, t in times.items()}
    finally:
        page.close()
