"""Score your data: upload images (PNG/JPEG, several, or a zip) or a CSV/NPY table; ranked anomaly scores."""
import io

import numpy as np
import pandas as pd
import streamlit as st

from app import caches, catalogue, images, sidebar, uploads

ctx = sidebar.context()
st.title("Score your data")
st.caption("Upload your own samples and rank them by the model's anomaly score (higher = more anomalous). "
           "Nothing leaves this server; uploads are not stored.")
if not ctx.require_models():
    st.stop()

by_path = {e["path"]: e for e in ctx.entries}
if st.session_state.get("score_model") not in by_path:
    st.session_state["score_model"] = max(by_path, key=lambda p: str(by_path[p]["interpolation"]))
path = st.selectbox("Model", list(by_path), key="score_model", format_func=lambda p: catalogue.entry_label(by_path[p]))
model = caches.model(path)
shape = tuple(model.input_shape_)
image_model = len(shape) == 3

if image_model:
    C, H, W = shape
    lo, hi = model.config_.input_range
    st.markdown(f"The model takes **{C}-channel {H}×{W} images** with pixel values in [{lo:g}, {hi:g}]. "
                "Images of another size are resized (stretched); colour images are converted to grey for a "
                "1-channel model. A `.npy` array must already be (N, C, H, W) in that range.")
    files = st.file_uploader("Images (PNG/JPEG), a zip of images, or an .npy array", accept_multiple_files=True,
                             type=["png", "jpg", "jpeg", "zip", "npy"], key="score_files")
    polarity = "as is"
    if C == 1:
        polarity = st.radio("Colours", ["auto", "as is", "invert"], horizontal=True, key="score_polarity",
                            help="The training digits are light strokes on a dark background; a dark-on-light "
                                 "drawing must be inverted. auto inverts images whose border is mostly light.")
else:
    F = shape[0]
    names = list(ctx.ds.feature_names) if ctx.ds is not None and ctx.ds.feature_names else None
    st.markdown(f"The model takes **{F} numeric features** per row (raw units, as in the dataset). A CSV may have a "
                "header row (named columns are matched to the dataset's feature names) or none.")
    files = st.file_uploader("A CSV or .npy table", accept_multiple_files=True, type=["csv", "npy"],
                             key="score_files")

@st.cache_data(show_spinner=False, max_entries=16)
def examples(path: str, mtime: int) -> tuple[bytes, str, str]:
    """A few test samples (half normal, half anomalous) to try the page with: a zip of PNGs or a CSV."""
    import zipfile

    sp = caches.split_for(caches.entry_of(path))
    rng = np.random.default_rng(0)
    pick = np.r_[rng.choice(np.flatnonzero(sp.y_test == 0), 6, replace=False),
                 rng.choice(np.flatnonzero(sp.y_test == 1), 6, replace=False)]
    if image_model:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            for j in pick:
                tag = "anomaly" if sp.y_test[j] else "normal"
                zf.writestr(f"test{j:05d}-{tag}.png", images.png_bytes(images.to_uint8_image(sp.X_test[j], (lo, hi))))
        return buf.getvalue(), "maesi-examples.zip", "application/zip"
    return (pd.DataFrame(sp.X_test[pick], columns=names).to_csv(index=False).encode(), "maesi-examples.csv",
            "text/csv")


if ctx.ds is not None and caches.entry_of(path).get("dataset") == ctx.dataset:
    data, fname, mime = examples(path, caches.mtime(path))
    st.download_button("Download example files (6 normal and 6 anomalous test samples)", data, file_name=fname,
                       mime=mime, key="score_examples")

if not files:
    st.info("Upload files to score them.")
    st.stop()

X, names_out, thumbs = None, [], []
try:
    if image_model:
        npys = [f for f in files if f.name.lower().endswith(".npy")]
        imgs = [f for f in files if not f.name.lower().endswith(".npy")]
        parts = []
        for f in npys:
            try:
                arr = np.load(io.BytesIO(f.getvalue()), allow_pickle=False)
            except Exception as e:  # noqa: BLE001
                raise ValueError(f"{f.name}: not a readable .npy file ({e})") from None
            arr = uploads.check_image_array(f.name, arr, shape)
            parts.append(arr.astype(np.float32))
            names_out += [f"{f.name}[{i}]" for i in range(len(arr))]
        if imgs:
            from core.data.images import images_from_files

            Xi, nm = images_from_files([(f.name, f.getvalue()) for f in imgs], size=(H, W), channels=C,
                                       input_range=(lo, hi))
            Xi = Xi.astype(np.float32)
            if polarity != "as is":
                border = np.concatenate([Xi[:, :, 0, :], Xi[:, :, -1, :], Xi[:, :, :, 0], Xi[:, :, :, -1]], axis=2)
                flip = border.mean(axis=(1, 2)) > (lo + hi) / 2 if polarity == "auto" else np.ones(len(Xi), bool)
                Xi[flip] = hi + lo - Xi[flip]
                if polarity == "auto" and flip.any():
                    st.caption(f"Inverted {int(flip.sum())} image(s) with a light background.")
            parts.append(Xi)
            names_out += nm
        X = np.concatenate(parts) if len(parts) > 1 else parts[0]
    else:
        parts = []
        for f in files:
            Xt, nm = uploads.read_table_upload(f.name, f.getvalue(), F, names)
            parts.append(Xt)
            names_out += [f"{f.name}:{r}" for r in nm]
        X = np.concatenate(parts)
    scores = model.decision_function(X)
except ValueError as e:
    st.error(f"**This upload does not fit the model.** {e}")
    st.stop()

order = np.argsort(-scores, kind="stable")
flag = scores > model.threshold_
res = pd.DataFrame({"rank": np.arange(1, len(order) + 1), "name": np.asarray(names_out)[order],
                    "score": scores[order], "anomaly": np.where(flag[order], "yes", "no")})
st.session_state["score_result"] = res
st.success(f"Scored {len(X)} sample(s); {int(flag.sum())} above the model's threshold ({model.threshold_:.4g}).")
column_config = {"score": st.column_config.NumberColumn("score", format="%.4g"),
                 "anomaly": st.column_config.TextColumn("above threshold")}
shown = res.copy()
if image_model:
    shown.insert(1, "image", [images.png_data_url(images.upscale(images.to_uint8_image(X[i], (lo, hi)), 48))
                              for i in order])
    column_config["image"] = st.column_config.ImageColumn("image", width="small")
st.dataframe(shown, hide_index=True, column_config=column_config, row_height=56 if image_model else None)
st.download_button("Download results (CSV)", res.to_csv(index=False).encode(), file_name="maesi-scores.csv",
                   mime="text/csv", key="score_csv")
