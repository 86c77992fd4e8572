"""maesi's Streamlit latent-space lab: `streamlit run app/main.py` (see app/README.md).

`lab` holds the pure, testable helpers (projections, separation figures, simplex weights, figure builders,
upload readers); `jobs` the background training registry; `state` the Streamlit glue (caches, catalogue,
shared sidebar); `pages/` the thin page scripts.
"""
