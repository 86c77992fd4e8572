"""Models: the shipped checkpoints and your runs (table following the sidebar, health badge and curves,
departures from the paper); download, rename and delete your runs; upload a checkpoint; train a new one in the
background with an estimated time before it starts."""
import streamlit as st

from app.models import sections, training_panel, your_data
from app.shared import sidebar

ctx = sidebar.context()
st.title("Models")
sections.skipped_section()

st.subheader("Checkpoints")
chosen = sections.checkpoint_table(ctx)
if chosen is not None:
    sections.manage(chosen)
    sections.details(chosen)

sections.upload()
your_data.your_data_section(ctx)
training_panel.training_form(ctx)
training_panel.jobs_section()
