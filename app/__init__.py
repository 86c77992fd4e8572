"""maesi's Streamlit latent-space lab: `streamlit run app/main.py` (see app/README.md).

Pure helpers, no Streamlit (each testable on its own): `analysis` (projections, separation figures, thresholds),
`simplex_weights` (weights on the simplex, the latent mixture), `images` (PNG helpers), `score_input` (users' files
through core.data.readers.read_samples), `figures` and `training_figures` (plotly figures), `model_table` (the
Models table and badges), `runs` (delete, rename, download a run), `jobs` (the background training registry).
Streamlit glue: `catalogue` (shipped checkpoints and the user's runs), `caches` (heavy results once per server),
`sidebar` (the shared sidebar and the page context), `display` (figure and image display), `guard` (no traceback
or server path reaches a user), `owner` (the browser's owner token for jobs), `training_estimate` (timing a few
steps before a training starts), `models_sections` and `training_panel` (the Models page's sections). `views/`
holds the thin page scripts, which call the modules above through their public functions only.
"""
