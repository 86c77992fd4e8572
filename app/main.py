"""maesi latent-space lab: `streamlit run app/main.py`.

Environment: MAESI_DATA (datasets folder; without it only the bundled digits work), MAESI_RUNS (your trained
and uploaded checkpoints; default ~/.local/share/maesi/runs). See app/README.md.
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `streamlit run app/main.py` puts app/ on the path, not the repository
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from app.shared import catalogue, display, guard, jobs, keys, projection_store, sidebar  # noqa: E402

st.set_page_config(page_title="maesi lab", page_icon=":material/scatter_plot:", layout="wide")

PAGES = [
    st.Page("latent_map/page.py", title="Latent map", icon=":material/scatter_plot:", default=True,
            url_path="latent_map"),
    st.Page("simplex/page.py", title="Simplex explorer", icon=":material/change_history:",
            url_path="simplex"),
    st.Page("roc/page.py", title="ROC and ablation", icon=":material/show_chart:",
            url_path="roc"),
    st.Page("claims/page.py", title="Paper claims", icon=":material/fact_check:",
            url_path="claims"),
    st.Page("score/page.py", title="Score your data", icon=":material/upload_file:",
            url_path="score"),
    st.Page("models/page.py", title="Models", icon=":material/model_training:",
            url_path="models"),
]

page = st.navigation(PAGES)
# Training jobs save their best weights as "interrupted" when the server is stopped (once per process).
jobs.install_shutdown_handling()
# Every page runs inside a guard: a failure shows one line and a log reference, never a traceback or a path.
st.session_state[keys.CONTEXT] = None
with guard.page_guard("the sidebar"):
    st.session_state[keys.CONTEXT] = sidebar.sidebar()
    display.skipped_note(catalogue.skipped_files(), target=st.sidebar)
if st.session_state[keys.CONTEXT] is None:
    st.stop()
display.flash()
with guard.page_guard(f"the {page.title} page"):
    page.run()
# once per server, after its first page is drawn (started earlier, it competed with that page for the CPU and the
# GIL): UMAP's compiled code ready before it is asked for
projection_store.warm_up_in_background()
