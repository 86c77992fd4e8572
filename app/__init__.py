"""maesi's Streamlit latent-space lab: `streamlit run app/main.py` (see app/README.md).

`main.py` is the entry: navigation, the shared sidebar and the error guard around every page. One package per
page, each holding its page script (`page.py`, run by `st.Page`), its panels, figures and the session-state keys
it declares (`keys.py`): `latent_map`, `simplex`, `roc`, `score`, `models`. `shared` holds what several pages
use: the sidebar and page context, the catalogue, caches, analysis, shared figures and labels, display helpers,
the guard and the training jobs. Layers point downwards only: a page imports `shared` and `core`, never another
page; `shared` imports no page (tests/test_layers.py).
"""
