"""Your own data in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright): a zip of image
folders uploaded on the Models page becomes a dataset, trains as a job, and the Latent map and the Simplex explorer
open on the trained model.

    .venv/bin/python -m pytest -m browser tests/test_browser_user_data.py
"""
import io
import json
import re
import zipfile

import numpy as np
import pytest

from test_browser_jobs import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, _start_server, _wait_for, sync_api

pytestmark = pytest.mark.browser

FAILED = "Something went wrong"


def _digits_zip(path, n: int = 240) -> None:
    from PIL import Image
    from sklearn.datasets import load_digits

    d = load_digits()
    with zipfile.ZipFile(path, "w") as z:
        for i, (img, y) in enumerate(zip(d.images[:n], d.target[:n])):
            png = io.BytesIO()
            Image.fromarray((img * 255 / 16).round().astype(np.uint8), "L").save(png, "PNG")
            z.writestr(f"mydigits/{'abnormal' if y == 9 else 'normal'}/{i:04d}.png", png.getvalue())


def _settled(page) -> bool:
    return page.locator("[data-testid='stSkeleton'], [data-stale='true']").count() == 0


def test_an_uploaded_zip_trains_and_opens_on_the_latent_map_and_the_simplex_explorer(tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    upload = tmp_path / "mydigits.zip"
    _digits_zip(upload)
    proc, url, log = _start_server(tmp_path / "runs", tmp_path / "streamlit.log",
                                   MAESI_USER_DATA=str(tmp_path / "store"))
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1500, "height": 1400})
            page.goto(url + "/models")
            page.get_by_role("tab", name="Your data").click()
            chooser = page.locator(".st-key-own_upload input[type=file]")
            _wait_for(page, lambda: chooser.count() == 1, "the dataset uploader")
            chooser.set_input_files(str(upload))
            add = page.get_by_role("button", name="Add the dataset")
            _wait_for(page, lambda: add.is_enabled(), "the upload to arrive")
            add.click()
            # stored, declared, selected in the sidebar, and the Train tab opens on it: a model is what it needs next
            train_tab = page.get_by_role("tab", name="Train a model")
            chosen = page.locator('[data-testid="stSidebar"] input[aria-label="Dataset"]')
            _wait_for(page, lambda: chosen.input_value() == "user.mydigits"
                      and train_tab.get_attribute("aria-selected") == "true", "the new dataset, selected in the "
                      "sidebar, and the Train tab", timeout=240)
            assert (tmp_path / "store" / "mydigits.zip").exists()
            start = page.get_by_role("button", name="Start training")
            _wait_for(page, lambda: start.count() and start.is_enabled() and page.get_by_text("Estimated time").count()
                      and _settled(page),
                      "the training form's estimate", timeout=240)
            field = page.locator(".st-key-train_epochs input")
            field.fill("1")
            field.press("Enter")
            _wait_for(page, lambda: field.input_value() == "1" and start.is_enabled() and _settled(page),
                      "the epochs to be set", timeout=240)
            start.click()
            # the form trained the new dataset: its job card says so, or (when the page has already refreshed with
            # the new run) the run's sidecar in the runs folder records a completed training
            card = re.compile(r"Job \d+: user\.mydigits, .*: completed")

            def saved_completed() -> bool:
                sidecars = list((tmp_path / "runs").glob("user.mydigits-call-m3-s0-*.json"))
                return any(json.loads(p.read_text()).get("training_status") == "completed" for p in sidecars)

            _wait_for(page, lambda: card.search(page.inner_text("body")) or saved_completed(), "the job to complete",
                      timeout=600)
            assert FAILED not in page.inner_text("body")
            page.screenshot(path=str(ARTIFACTS / "user-data-models.png"), full_page=True)

            # through the sidebar's navigation: the same session, so the same dataset and model
            page.locator("[data-testid='stSidebarNav'] a", has_text="Latent map").click()
            _wait_for(page, lambda: "k-NN AUC" in page.inner_text("body") and page.locator(".lmp-point").count(),
                      "the latent map of the new model", timeout=240)
            assert "user.mydigits-call-m3" in page.inner_text("body")  # the new run's map
            assert FAILED not in page.inner_text("body")
            page.screenshot(path=str(ARTIFACTS / "user-data-latent-map.png"), full_page=True)

            page.locator("[data-testid='stSidebarNav'] a", has_text="Simplex explorer").click()
            decoded = page.locator(".st-key-sx_decoded img")  # one model: one decoded interpolant
            _wait_for(page, lambda: decoded.count() == 1 and "anomaly score of the interpolant" in page.inner_text("body"),
                      "the decoded interpolant and its score", timeout=240)
            assert FAILED not in page.inner_text("body")
            page.screenshot(path=str(ARTIFACTS / "user-data-simplex.png"), full_page=True)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        log.close()
