"""Models: the shipped checkpoints and your runs (table following the sidebar, health badge and curves,
departures from the paper); download, rename and delete your runs; upload a checkpoint; train a new one in the
background with an estimated time before it starts."""
import streamlit as st

from app import models_sections, sidebar, training_panel

ctx = sidebar.context()
st.title("Models")
models_sections.skipped_section()

st.subheader("Checkpoints")
chosen = models_sections.checkpoint_table(ctx)
if chosen is not None:
    models_sections.manage(chosen)
    models_sections.details(chosen)

models_sections.upload()
training_panel.training_form(ctx)
training_panel.jobs_section()
