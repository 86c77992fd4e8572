"""maesi's Streamlit latent-space lab: `streamlit run app/main.py` (see app/README.md).

Pure helpers, no Streamlit (each testable on its own): `analysis` (projections, separation figures, thresholds),
`simplex_weights` (weights on the simplex, the latent mixture), `images` (PNG helpers), `uploads` (readers of a
user's files), `figures` (plotly figures), `jobs` (the background training registry).
Streamlit glue: `catalogue` (shipped checkpoints and the user's runs), `caches` (heavy results once per server),
`sidebar` (the shared sidebar and the page context), `display` (figure and image display). `views/` holds the thin
page scripts, which call the modules above through their public functions only.
"""
