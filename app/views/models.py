"""Models: the shipped checkpoints and your runs; load, upload, or train a new one in the background."""
import pandas as pd
import streamlit as st

from app import caches, catalogue, display, figures, jobs, sidebar

ss = st.session_state
ctx = sidebar.context()
st.title("Models")

# ------------------------------------------------------------------ table
st.subheader("Checkpoints")
only_this = st.toggle(f"Only {ctx.dataset}", value=False, key="models_only_this")
entries = [e for e in ctx.catalogue if not only_this or e.get("dataset") == ctx.dataset]
frame = catalogue.catalogue_frame(entries)
shown = frame.drop(columns=["path"] + (["F1"] if frame["F1"].isna().all() else []))
table = st.dataframe(shown, hide_index=True, on_select="rerun", selection_mode="single-row", key="models_table",
                     column_config={"AUC": st.column_config.NumberColumn(format="%.3f"),
                                    "AP": st.column_config.NumberColumn(format="%.3f"),
                                    "F1": st.column_config.NumberColumn(format="%.3f")})
st.caption("Click a row to pick it. " f"{sum(e['source'] == 'shipped' for e in entries)} shipped (in `checkpoints/`), "
           f"{sum(e['source'] == 'yours' for e in entries)} of yours (in `{catalogue.runs_dir()}`). "
           "AUC/AP on the protocol's test set; F1 at the top-k% (known anomaly fraction) for tables.")

if entries:
    by_name = {e["name"] + ("" if e["source"] == "shipped" else " (yours)"): e for e in entries}
    rows = (table or {}).get("selection", {}).get("rows", []) if table is not None else []
    if rows and rows[0] < len(entries) and ss.get("_models_row") != rows[0]:
        ss["_models_row"] = rows[0]  # a click on a row picks it below
        e = entries[rows[0]]
        ss["models_pick"] = e["name"] + ("" if e["source"] == "shipped" else " (yours)")
    if ss.get("models_pick") not in by_name:
        ss.pop("models_pick", None)
    c1, c2 = st.columns([3, 1])
    pick = c1.selectbox("Checkpoint", list(by_name), key="models_pick")
    chosen = by_name[pick]
    c2.button("Use in the lab", key="models_use", on_click=sidebar.use_checkpoint, args=(chosen,), type="primary",
              help="Selects its dataset and anomaly class in the sidebar and adds it to the compared models.")
    with st.expander(f"Details of {chosen['name']}"):
        try:
            mdl = caches.model(chosen["path"])
            cfg = mdl.config_
            st.markdown(f"preset **{cfg.preset}**, interpolation **{cfg.interpolation}**, λ = {cfg.lam}, "
                        f"{cfg.epochs} epochs, latent dim {cfg.arch.latent_dim}, input {tuple(mdl.input_shape_)}, "
                        f"selected epoch {mdl.selected_epoch_}, status {mdl.training_status_}, "
                        f"trained in {jobs.fmt_seconds(mdl.train_seconds_)}")
            st.code(chosen.get("command") or "(no command recorded)", language="bash")
            st.json(chosen.get("metrics") or {}, expanded=False)
            if mdl.history_:
                display.show_figure(figures.loss_figure(mdl.history_), key="models_history",
                                  csv=pd.DataFrame({k: v for k, v in mdl.history_.items()
                                                    if isinstance(v, list) and len(v) == len(mdl.history_["seconds"])}),
                                  csv_name=f"history-{chosen['name']}.csv")
        except Exception as e:  # noqa: BLE001
            st.error(f"{chosen['name']} cannot be loaded: {e}")

# ------------------------------------------------------------------ upload
st.subheader("Upload a checkpoint")
up = st.file_uploader("A checkpoint pair: NAME.safetensors and NAME.json", accept_multiple_files=True,
                      type=["safetensors", "json"], key="models_upload")
if up:
    weights = [f for f in up if f.name.endswith(".safetensors")]
    sidecars = [f for f in up if f.name.endswith(".json")]
    if len(weights) != 1 or len(sidecars) != 1:
        st.error(f"Upload exactly one .safetensors file and its .json sidecar (got {len(weights)} weights file(s) "
                 f"and {len(sidecars)} sidecar(s)).")
    elif st.button("Add to my runs", key="models_add"):
        from core.checkpoint import CheckpointError, load_bytes_checkpoint

        try:
            stored = load_bytes_checkpoint(weights[0].getvalue(), sidecars[0].getvalue(), catalogue.runs_dir())
            from core import MirroredAE

            MirroredAE.load(stored, device="cpu")  # the weights must also fit the architecture
        except CheckpointError as e:
            st.error(f"**Not a usable maesi checkpoint.** {e}")
        except Exception as e:  # noqa: BLE001
            st.error(f"**The checkpoint could not be read.** {type(e).__name__}: {e}")
        else:
            st.success(f"Stored as {stored}; it is now in the table above.")
            st.rerun()

# ------------------------------------------------------------------ train
st.subheader("Train a new model")
from core.config import PRESETS  # noqa: E402
from core.data.registry import get_spec  # noqa: E402
from core.data import DATASETS  # noqa: E402

import torch  # noqa: E402

with st.form("train_form"):
    f1, f2, f3 = st.columns(3)
    t_ds = f1.selectbox("Dataset", sidebar.dataset_choices(), index=sidebar.dataset_choices().index(ctx.dataset),
                        key="train_dataset")
    t_cls = f2.number_input("Anomaly class (images)", 0, 99, int(ctx.anomaly_class or 0), key="train_class",
                            help="Ignored for tabular datasets, whose anomalies are given.")
    t_m = f3.selectbox("Interpolation m", [3, 2, 0, "acai"], key="train_m",
                       format_func=lambda m: f"{m} · {figures.interpolation_label(m)}")
    g1, g2, g3, g4 = st.columns(4)
    preset = PRESETS[get_spec(t_ds).preset]
    t_lam = g1.number_input("λ (interpolation weight)", 0.0, 10.0, float(preset.lam), 0.1, key="train_lam")
    t_epochs = g2.number_input("Epochs", 1, 1000, min(preset.epochs, 60), key="train_epochs")
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    t_dev = g3.selectbox("Device", devices, key="train_device", help="cuda is offered when a GPU is visible.")
    t_max = g4.number_input("Max training samples (0 = all)", 0, 1_000_000, 0, 1000, key="train_max",
                            help="A seeded subset, for quick runs on large datasets (as --max-train).")
    submitted = st.form_submit_button("Start training", type="primary")
if submitted:
    if not caches.dataset_present(t_ds, catalogue.data_dir()):
        st.error(f"The {t_ds} data is not available here; set MAESI_DATA to the datasets folder.")
    elif any(not jobs.JOBS[i].done for i in ss.get("my_jobs", []) if i in jobs.JOBS):
        st.warning("A training job of yours is still running: wait for it or stop it before starting another.")
    else:
        spec = jobs.JobSpec(dataset=t_ds, anomaly_class=None if DATASETS[t_ds].kind == "tabular" else int(t_cls),
                            interpolation=t_m, lam=float(t_lam), epochs=int(t_epochs), device=t_dev,
                            max_train=int(t_max) or None, data_dir=catalogue.data_dir())
        job = jobs.start(spec, catalogue.runs_dir())
        ss.setdefault("my_jobs", []).append(job.id)
        st.toast(f"Training job {job.id} started.")


def _job_panel() -> None:
    mine = [jobs.JOBS[i] for i in ss.get("my_jobs", []) if i in jobs.JOBS]
    others = [j for j in jobs.active() if j.id not in ss.get("my_jobs", [])]
    if not mine and not others:
        st.caption("No training job yet in this session.")
        return
    for job in sorted(mine, key=lambda j: -j.id)[:5]:
        snap = job.snapshot()
        spec = snap["spec"]
        head = (f"**Job {snap['id']}**: {spec.dataset}"
                + ("" if spec.anomaly_class is None else f", anomaly class {spec.anomaly_class}")
                + f", m = {spec.interpolation}, λ = {spec.lam}, {spec.epochs} epochs on {spec.device}: "
                  f"*{snap['status']}*")
        with st.container(border=True):
            st.markdown(head)
            st.progress(snap["progress"], text=f"epoch {snap['epoch']}/{snap['epochs'] or spec.epochs} · "
                                               f"step {snap['step']}/{snap['total_steps'] or '?'} · elapsed "
                                               f"{jobs.fmt_seconds(snap['elapsed'])} · ETA "
                                               f"{jobs.fmt_seconds(snap['eta']) if not snap['done'] else '–'}")
            if snap["message"]:
                (st.error if snap["status"] == "failed" else st.caption)(snap["message"])
            if snap["history"]:
                display.show_figure(figures.loss_figure(snap["history"]), key=f"job-{snap['id']}-losses")
            if not snap["done"]:
                st.button("Stop", key=f"stop-{snap['id']}", on_click=jobs.stop, args=(snap["id"],),
                          help="Stops after the current step; the weights so far are saved as a run.")
            elif snap["path"] and snap["id"] not in ss.get("_announced", set()):
                ss.setdefault("_announced", set()).add(snap["id"])
                st.rerun()  # refresh the table and the sidebar with the new run
    if others:
        st.caption(f"{len(others)} job(s) of other sessions are training on this server.")


running = any(not jobs.JOBS[i].done for i in ss.get("my_jobs", []) if i in jobs.JOBS)
st.subheader("Training jobs")
st.fragment(_job_panel, run_every=1.0 if running else None)()
