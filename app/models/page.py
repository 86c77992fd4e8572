"""Models: the shipped checkpoints and your runs (table following the sidebar, health badge and curves,
departures from the paper); download, rename and delete your runs; train a new one in the background with an
estimated time before it starts; bring your own data; upload a checkpoint. One tab each, and only the open tab's
sections run: a page change draws the table, not four sections below it."""
import streamlit as st

from app.models import keys, sections, training_panel, your_data
from app.shared import display, sidebar

ctx = sidebar.context()
st.title("Models")
sections.skipped_section()
checkpoints, train, own_data, upload = display.lazy_tabs(keys.TABS, keys.TAB, keys.KEPT_ACROSS_TABS).values()
if not train.open:
    training_panel.jobs_notice()
if checkpoints.open:
    with checkpoints:
        chosen = sections.checkpoint_table(ctx)
        if chosen is not None:
            sections.manage(chosen)
            sections.details(chosen)
if train.open:
    with train:
        training_panel.training_form(ctx)
        training_panel.jobs_section()
if own_data.open:
    with own_data:
        your_data.your_data_section(ctx)
if upload.open:
    with upload:
        sections.upload()
