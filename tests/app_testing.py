"""Shared helpers of the AppTest suites (tests/test_app*.py): the app's path, the shipped digits models, a per-test
runs folder without a data dir, and assertions."""
import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app" / "main.py"
CHECKPOINTS = ROOT / "checkpoints"


def _digits_entries():
    from core.checkpoints.manifest import find, load_manifest

    return find(load_manifest(CHECKPOINTS), "digits", 0)


if not (CHECKPOINTS / "manifest.json").exists():
    pytest.skip("checkpoints/manifest.json is missing: train the shipped checkpoints first "
                "(python -m scripts.make_checkpoints --only digits)", allow_module_level=True)
if {e["interpolation"] for e in _digits_entries()} < {0, 2, 3}:
    pytest.skip("the manifest lacks digits-c0-m0/m2/m3 (python -m scripts.make_checkpoints --only digits)",
                allow_module_level=True)

from streamlit.testing.v1 import AppTest  # noqa: E402


@pytest.fixture(autouse=True)
def lab_env(tmp_path, monkeypatch):
    """Each test: its own runs folder, no data dir (only the bundled digits), one thread for torch."""
    monkeypatch.setenv("MAESI_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("MAESI_DATA", str(tmp_path / "no-data"))
    import torch

    torch.set_num_threads(1)
    yield tmp_path


TAB_KEYS = {"models": "models_tab", "simplex": "simplex_tab", "roc": "roc_tab"}  # the pages' lazy tabs


def run_app(page=None, at=None, tab=None) -> AppTest:
    """The app (a new session unless `at`), on `page` if given, with its lazy tab `tab` open (only the open tab's
    sections run)."""
    at = at or AppTest.from_file(str(APP), default_timeout=180).run()
    if tab:
        set_tab(at, page, tab)
    if page:
        at.switch_page(f"{page}/page.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def set_tab(at, page, tab) -> None:
    """What a click on the tab sets: its session value and, as the tabs are bound to the URL, the query parameter
    (which a later run would otherwise read back)."""
    at.session_state[TAB_KEYS[page]] = tab
    at.query_params[TAB_KEYS[page]] = tab


def open_tab(at, page, tab) -> AppTest:
    """The open page with another of its lazy tabs open."""
    set_tab(at, page, tab)
    return at.run()


def no_errors(at):
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def metric(at, label):
    return next(m.value for m in at.metric if m.label == label)


def separation_figures(at) -> list[dict]:
    """The latent map's k-NN AUC, silhouette and model AUC per panel, as the page recorded them."""
    return [at.session_state[f"map_separation-{i}"] for i in range(len(at.multiselect(key="models").value))]
