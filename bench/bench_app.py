"""Latency of the Streamlit lab on the shipped digits checkpoints (informational: nothing is asserted).

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_app.py [--repeats 15]

Prints, each as a measured time and as a ratio against a reference measured in the same process:
  1. app start to the first full render (AppTest run of the main page, cold caches; target < 5 s),
     reference: a bare AppTest of a one-line page;
  2. a simplex weight change to the new decoded images, server side (target < 50 ms): the time inside the
     page's fragment from its start to the decoded image of every compared model, with its anomaly score and
     D_inter readout (what a slider move costs: only the fragment reruns),
     plus the full page rerun as an upper bound; reference: one bare `model.decode` call;
  3. a cached latent-map re-render (target < 200 ms): an AppTest rerun of the main page with every projection
     cached (recolouring the maps); reference: a bare AppTest rerun of the one-line page;
  4. warm page renders, per page (target < 2 s on an idle 2-core machine):
     a. server side: an AppTest run of the page in a session that has seen it (the page script alone);
     b. in the browser (when Debian's chromium and playwright are installed; --no-browser skips it): from
        navigation to the page's last element on screen, by a click on its sidebar link and by a full reload
        (bench/render_timing.py, shared with tests/test_browser.py). The machine's load average is printed
        beside them: on a loaded machine every figure stretches.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))  # render_timing
APP = ROOT / "app" / "main.py"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


LINES: list[str] = []  # printed in the order 1, 2, 3 at the end (they are measured in the order 1, 3, 2)


def line(name: str, value: float, ref: float, ref_name: str, target: float) -> None:
    verdict = "ok" if value < target else "over target"
    LINES.append(f"{name:<46} {ms(value)}  = {value / ref:7.1f} x {ref_name} ({ms(ref).strip()})  "
                 f"target < {target * 1000:.0f} ms: {verdict}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--no-browser", action="store_true", help="skip the browser's warm page renders")
    args = p.parse_args(argv)
    if not (ROOT / "checkpoints" / "manifest.json").exists():
        print("checkpoints/manifest.json is missing: train the shipped checkpoints first", file=sys.stderr)
        return 1
    os.environ["MAESI_RUNS"] = tempfile.mkdtemp(prefix="maesi-bench-runs-")
    import torch

    torch.set_num_threads(1)
    from streamlit.testing.v1 import AppTest

    print(f"maesi lab bench: {os.cpu_count()} CPU(s), torch threads {torch.get_num_threads()}, "
          f"{args.repeats} repeats (medians)\n")

    # reference: a bare page (the first run pays Streamlit's own start-up, as the app's first run does)
    bare = AppTest.from_string("import streamlit as st\nst.write('hello')", default_timeout=60)
    t0 = time.perf_counter()
    bare.run()
    bare_first = time.perf_counter() - t0
    bare_rerun = median_time(bare.run, args.repeats)

    # 1. start to first full render (cold caches: imports, model loads, encodings, projections)
    at = AppTest.from_file(str(APP), default_timeout=300)
    t0 = time.perf_counter()
    at.run()
    start = time.perf_counter() - t0
    assert not at.exception, [e.value for e in at.exception]
    line("1. app start -> first full render", start, bare_first, "bare first run", 5.0)

    # 3. cached latent map re-render: recolour the three maps (projections come from the cache)
    colours = iter(["class", "anomaly"] * args.repeats)

    def recolour():
        at.radio(key="map_colour").set_value(next(colours)).run()

    recolour()  # warm
    cached = median_time(recolour, args.repeats)
    line("3. cached latent map re-render (3 maps)", cached, bare_rerun, "bare rerun", 0.2)

    # 2. weight change -> decoded image
    at.switch_page("simplex/page.py").run()
    assert not at.exception, [e.value for e in at.exception]
    values = iter([0.2, 0.7] * (args.repeats + 1))
    inside, full = [], []
    for _ in range(args.repeats):
        slider = at.slider(key="sx_w0")
        t0 = time.perf_counter()
        slider.set_value(next(values)).run()
        full.append(time.perf_counter() - t0)
        inside.append(at.session_state["simplex_ms"] / 1000)
    from app.simplex import weights
    from core import MirroredAE

    model = MirroredAE.load(at.session_state["sx_model"], device="cpu")
    z = model.encode(model.decode(torch.zeros(1, model.config_.arch.latent_dim).numpy()))
    decode_ref = median_time(lambda: model.decode(weights.mix_latents(z, [1.0])), args.repeats)
    n_models = len(at.session_state["simplex_compare"])  # the comparison view: every selected model decodes
    line(f"2. weight change -> {n_models} decoded images (fragment)", statistics.median(inside), decode_ref,
         "bare decode", 0.05)
    LINES.append(f"{'   full simplex page rerun (upper bound)':<46} {ms(statistics.median(full))}  "
                 f"= {statistics.median(full) / bare_rerun:7.1f} x bare rerun ({ms(bare_rerun).strip()})")
    print("\n".join(sorted(LINES, key=lambda s: s.lstrip()[0] if s.lstrip()[0].isdigit() else "2")))

    # 4a. warm page renders, server side: the page script in a session whose caches hold everything
    print(f"\n4. warm page renders (target < 2 s; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    for name in PAGE_SCRIPTS:
        at.switch_page(f"{name}/page.py").run()  # warm: models, scores, projections, baselines
        assert not at.exception, (name, [e.value for e in at.exception])
        warm = median_time(lambda: at.switch_page(f"{name}/page.py").run(), max(3, args.repeats // 3))
        print(f"   {'a. server, ' + name:<43} {ms(warm)}  target < 2000 ms: {'ok' if warm < 2 else 'over target'}")
    if not args.no_browser:
        browser_renders()
    return 0


PAGE_SCRIPTS = ("latent_map", "simplex", "roc", "score", "models")


def browser_renders(repeats: int = 3) -> None:
    """4b: warm renders in Debian's chromium, from navigation to each page's last element."""
    import render_timing

    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("   b. browser: skipped (the playwright package is not installed)")
        return
    if not render_timing.CHROMIUM.exists():
        print(f"   b. browser: skipped ({render_timing.CHROMIUM} is absent)")
        return
    work = tempfile.mkdtemp(prefix="maesi-bench-browser-")
    proc, url = render_timing.start_server(os.path.join(work, "runs"), os.path.join(work, "streamlit.log"))
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(render_timing.CHROMIUM),
                                         args=render_timing.CHROMIUM_ARGS)
            try:
                times = render_timing.warm_render_times(browser, url, repeats)
            finally:
                browser.close()
    finally:
        render_timing.stop_server(proc)
    for name, t in times.items():
        verdict = "ok" if max(t.values()) < 2 else "over target"
        print(f"   {'b. browser, ' + name:<43} navigate {ms(t['navigate'])}, reload {ms(t['reload'])}  "
              f"target < 2000 ms: {verdict}")


if __name__ == "__main__":
    sys.exit(main())
