"""Score your data: upload images (PNG/JPEG, several, or a zip) or a CSV/NPY table; ranked anomaly scores.

Files are read by core.data.readers.read_samples (as `python -m core score` does): the good files of a batch are
scored, each bad file is listed with its reason, values outside the model's range are scored with a warning."""
import numpy as np
import pandas as pd
import streamlit as st

from app.score import keys, uploads
from app.shared import caches, catalogue, images, sidebar
from core.data.messages import printable


@st.cache_data(show_spinner=False, max_entries=16)
def examples(path: str, mtime: int, feature_names: tuple) -> tuple[bytes, str, str]:
    """Example files of the model's test set (cached per server and checkpoint)."""
    mdl = caches.model(path)
    sp = caches.split_for(caches.entry_of(path))
    return uploads.example_files(sp.X_test, sp.y_test, mdl.config_.input_range, len(mdl.input_shape_) == 3,
                                 list(feature_names) or None)


def choose_model(ctx) -> str:
    """The scoring checkpoint's path (by default the selection's richest interpolation)."""
    by_path = {e["path"]: e for e in ctx.entries}
    if st.session_state.get(keys.MODEL) not in by_path:
        st.session_state[keys.MODEL] = max(by_path, key=lambda p: str(by_path[p]["interpolation"]))
    return st.selectbox("Model", list(by_path), key=keys.MODEL, format_func=lambda p: catalogue.entry_label(by_path[p]))


def upload_files(model):
    """What the model takes, in words, and the uploader for it; returns (files, colour polarity)."""
    shape = tuple(model.input_shape_)
    if len(shape) != 3:
        st.markdown(f"The model takes **{shape[0]} numeric features** per row (raw units, as in the dataset). A CSV "
                    "may have a header row (named columns are matched to the dataset's feature names) or none.")
        return st.file_uploader("A CSV or .npy table", accept_multiple_files=True, type=uploads.UPLOAD_TYPES,
                                key=keys.FILES), "as is"
    C, H, W = shape
    lo, hi = model.config_.input_range
    st.markdown(f"The model takes **{C}-channel {H}×{W} images** with pixel values in [{lo:g}, {hi:g}]. "
                "Images of another size are resized (stretched); colour images are converted to grey for a "
                "1-channel model. A `.npy` array must already be (N, C, H, W) in that range.")
    files = st.file_uploader("Images (PNG/JPEG), a zip of images, or an .npy array", accept_multiple_files=True,
                             type=uploads.UPLOAD_TYPES, key=keys.FILES)
    polarity = "as is"
    if C == 1:
        polarity = st.radio("Colours", ["auto", "as is", "invert"], horizontal=True, key=keys.POLARITY,
                            help="The training digits are light strokes on a dark background; a dark-on-light "
                                 "drawing must be inverted. auto inverts images whose border is mostly light.")
    return files, polarity


def report_problems(problems: list, inverted: int) -> None:
    """Each bad file (or row set) with its reason, in plain view, the caveats, and the list as CSV."""
    errors = [p for p in problems if p.level == "error"]
    warnings = [p for p in problems if p.level == "warning"]
    if errors:
        st.error(f"**{len(errors)} file(s) or part(s) could not be scored** (the rest is scored below):\n\n"
                 + uploads.problem_list(problems, "error"))
    if warnings:
        st.warning(f"**{len(warnings)} caveat(s): scored, but look at them:**\n\n"
                   + uploads.problem_list(problems, "warning"))
    if problems:
        st.download_button("Download the list of problems (CSV)", uploads.problems_csv(problems),
                           file_name="maesi-problems.csv", mime="text/csv", key=keys.PROBLEMS_CSV)
    if inverted:
        st.caption(f"Inverted {inverted} image(s) with a light background.")


def show_results(model, X: np.ndarray, names: list) -> None:
    """The samples ranked by score (thumbnails for images), those above the threshold marked, and the CSV."""
    from core.data.tables import scores_csv

    image_model = len(model.input_shape_) == 3
    scores = model.decision_function(X)  # in batches under the scoring memory ceiling
    order = np.argsort(-scores, kind="stable")
    flag = scores > model.threshold_
    ranked = np.asarray(names, dtype=object)[order]
    res = pd.DataFrame({"rank": np.arange(1, len(order) + 1), "name": [printable(n) for n in ranked],
                        "score": scores[order], "anomaly": np.where(flag[order], "yes", "no")})
    st.session_state[keys.RESULT] = res
    st.success(f"Scored {len(X)} sample(s); {int(flag.sum())} above the model's threshold ({model.threshold_:.4g}).")
    column_config = {"score": st.column_config.NumberColumn("score", format="%.4g"),
                     "anomaly": st.column_config.TextColumn("above threshold")}
    shown = res.copy()
    if image_model:
        input_range = model.config_.input_range
        shown.insert(1, "image", [images.png_data_url(images.upscale(images.to_uint8_image(X[i], input_range), 48))
                                  for i in order])
        column_config["image"] = st.column_config.ImageColumn("image", width="small")
    st.dataframe(shown, hide_index=True, column_config=column_config, row_height=56 if image_model else None)
    st.download_button("Download results (CSV)",
                       scores_csv(ranked, res["score"], flag[order].astype(int)).encode(),
                       file_name="maesi-scores.csv", mime="text/csv", key=keys.RESULTS_CSV)


def main() -> None:
    ctx = sidebar.context()
    st.title("Score your data")
    st.caption("Upload your own samples and rank them by the model's anomaly score (higher = more anomalous). "
               "Nothing leaves this server; uploads are not stored.")
    if not ctx.require_models():
        st.stop()
    path = choose_model(ctx)
    model = caches.model(path)  # a model that could not score one sample under the memory ceiling never loads
    # the model's own columns (its sidecar) first: the loaded dataset may not be the one it was trained on
    own_names = getattr(model, "feature_names_in_", None)
    feature_names = (list(own_names) if own_names is not None
                     else list(ctx.ds.feature_names) if ctx.ds is not None and ctx.ds.feature_names else None)
    files, polarity = upload_files(model)
    if ctx.ds is not None and caches.entry_of(path).get("dataset") == ctx.dataset:
        data, fname, mime = examples(path, caches.mtime(path), tuple(feature_names or ()))
        st.download_button("Download example files (6 normal and 6 anomalous test samples)", data, file_name=fname,
                           mime=mime, key=keys.EXAMPLES)
    if not files:
        st.info("Upload files to score them.")
        st.stop()
    X, names, problems, inverted = uploads.read_uploads(files, model, feature_names, polarity)
    report_problems(problems, inverted)
    if not len(X):
        st.info("Nothing could be scored: see the reasons above.")
        st.stop()
    show_results(model, X, names)


main()
