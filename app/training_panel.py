"""The Models page's training sections: the form (profile, preset, learning rate, batch size, epochs, seed,
scaling, recon weight, max training samples, ...) with an estimated time before the start, and the jobs panel
(this browser's jobs with progress, live losses and Stop, found again after a page reload through the owner
cookie of app/owner.py; what happened to the jobs of an earlier server process)."""
from __future__ import annotations

import streamlit as st

from app import caches, catalogue, display, jobs, owner, sidebar, training_estimate, training_figures
from app.figures import interpolation_label
from app.guard import guarded, user_text

ss = st.session_state
ALL = "all"


def _defaults(preset: str, profile: str) -> dict:
    from core.config import make_config

    cfg = make_config(preset, profile)
    return {"train_lr": float(cfg.opt_encoder.lr), "train_batch": int(cfg.batch_size), "train_epochs": int(cfg.epochs),
            "train_lam": float(cfg.lam), "train_recon": float(cfg.recon_weight),
            "train_scaling": cfg.scaling if cfg.arch.family == "mlp" else None}


def _spec_from_form(dataset: str, klass, defaults: dict, tabular: bool) -> jobs.JobSpec:
    """The job of the form's values; a value left at the preset's default is passed as None (so that the
    recorded command and the departures say only what was changed)."""
    def changed(key, cast=float):
        value = cast(ss[key])
        return None if defaults.get(key) is not None and value == cast(defaults[key]) else value

    return jobs.JobSpec(dataset=dataset, anomaly_class=klass, interpolation=ss["train_m"], preset=ss["train_preset"],
                        profile=ss["train_profile"], lr=changed("train_lr"), batch_size=changed("train_batch", int),
                        epochs=int(ss["train_epochs"]), lam=changed("train_lam"), recon_weight=changed("train_recon"),
                        scaling=changed("train_scaling", str) if tabular else None, seed=int(ss["train_seed"]),
                        max_train=int(ss["train_max"]) or None, device=ss["train_device"],
                        data_dir=catalogue.data_dir())


def training_form(ctx) -> None:
    """The form, its departures from the paper, the time estimate and the Start button."""
    import torch

    from core.config import DEFAULT_PROFILE, PRESETS, PROFILES, TABULAR_SCALINGS
    from core.data.registry import get_spec

    st.subheader("Train a new model")
    choices = sidebar.dataset_choices()
    if ss.get("train_dataset") not in choices:
        ss["train_dataset"] = ctx.dataset
    f1, f2, f3, f4 = st.columns(4)
    dataset = f1.selectbox("Dataset", choices, key="train_dataset")
    spec = get_spec(dataset)
    tabular = spec.protocol == "tabular"
    classes = [ALL] if tabular else list(spec.classes)
    if ss.get("train_class") not in classes:
        ss["train_class"] = ctx.anomaly_class if ctx.dataset == dataset and ctx.anomaly_class in classes else classes[0]
    klass = f2.selectbox((spec.class_role or "anomaly class").capitalize(), classes, key="train_class",
                         disabled=tabular, help="Tabular datasets give their anomalies.")
    klass = None if klass == ALL else klass
    f3.selectbox("Interpolation m", [3, 2, 0, "acai"], key="train_m",
                 format_func=lambda m: f"{m} · {interpolation_label(m)}")
    ss.setdefault("train_profile", DEFAULT_PROFILE)
    f4.selectbox("Profile", list(PROFILES), key="train_profile",
                 help="paper: the paper's text; authors (the default, chosen on validation seeds): what the authors' "
                      "public code does where it differs (5 critic steps per E/G step, hinge loss with spectral norm, "
                      "...; see core/config.py).")
    presets = [p for p in PRESETS if (PRESETS[p].arch.family == "mlp") == tabular]
    if ss.get("_train_for") != dataset or ss.get("train_preset") not in presets:
        ss["train_preset"] = spec.preset if spec.preset in presets else presets[0]
    ss["_train_for"] = dataset
    g1, g2, g3, g4 = st.columns(4)
    preset = g1.selectbox("Preset", presets, key="train_preset", help="Architecture and hyper-parameters; the "
                          "dataset's own preset is the paper's (see core/config.py).")
    defaults = _defaults(preset, ss["train_profile"])
    if ss.get("_train_defaults_for") != (preset, ss["train_profile"]):  # a new preset or profile: its defaults
        ss["_train_defaults_for"] = (preset, ss["train_profile"])
        ss.update({k: v for k, v in defaults.items() if v is not None})
    g2.number_input("Learning rate", 1e-7, 1.0, key="train_lr", format="%.2e", step=1e-5,
                    help="Of E, G and the critics alike (the presets use one rate for all three).")
    g3.number_input("Batch size", 2, 4096, key="train_batch", step=16)
    g4.number_input("Epochs", 1, 1000, key="train_epochs")
    h1, h2, h3, h4, h5, h6 = st.columns(6)
    h1.number_input("λ (interpolation weight)", 0.0, 10.0, key="train_lam", step=0.1)
    h2.number_input("Recon weight", 0.0, 100.0, key="train_recon", step=0.5,
                    help="Adds W·‖x − G(E(x))‖² to the E/G loss: a stabiliser, not in the paper (0 = the "
                         "paper).")
    if tabular:
        h3.selectbox("Scaling", list(TABULAR_SCALINGS), key="train_scaling",
                     help="Of the tabular features, fitted on the training normals (the paper does not say).")
    else:
        h3.selectbox("Scaling", ["range"], key="train_scaling_images", disabled=True,
                     help="Images: the pixel range mapped to [-1, 1], the range of G's tanh.")
    h4.number_input("Seed", 0, 10_000, 0, key="train_seed")
    h5.number_input("Max samples (0 = all)", 0, 10_000_000, 0, 1000, key="train_max",
                    help="Max training samples: a seeded subset, for quick runs on large datasets (as --max-train).")
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    h6.selectbox("Device", devices, key="train_device", help="cuda is offered when a GPU is visible.")
    job_spec = _spec_from_form(dataset, klass, defaults, tabular)
    ready = _check_and_estimate(job_spec, tabular)
    mine = jobs.of_owner(owner.owner_token())
    busy = any(not j.done for j in mine)
    if st.button("Start training", key="train_start", type="primary", disabled=not ready or busy,
                 help="One job per browser at a time." if busy else None):
        job = jobs.start(job_spec, catalogue.runs_dir(), owner=owner.owner_token())
        ss.setdefault("my_jobs", []).append(job.id)
        ss["flash"] = f"Training job {job.id} started."
        st.rerun()


def _check_and_estimate(job_spec: jobs.JobSpec, tabular: bool) -> bool:
    """Shows the run's departures from the paper and its estimated time; False when it cannot start."""
    from core import MirroredAE

    if not caches.dataset_present(job_spec.dataset, catalogue.data_dir()):
        st.warning(f"The {job_spec.dataset} data is not available on this server (MAESI_DATA); it cannot be trained "
                   "here.")
        return False
    try:
        model = MirroredAE(**{k: v for k, v in job_spec.model_kwargs().items() if k != "seed"})
        cfg = model.make_config()
        notes = model.departures()
        split = caches.split(job_spec.dataset, job_spec.anomaly_class, job_spec.seed)
    except (ValueError, KeyError) as e:
        st.error(f"**This setting cannot be trained:** {user_text(e)}")
        return False
    st.caption("Not the paper's setting: " + "; ".join(notes) if notes else "The paper's setting.")
    n_train = len(split.X_train) if not job_spec.max_train else min(len(split.X_train), job_spec.max_train)
    try:
        measured = training_estimate.measure(cfg.preset, cfg.interpolation, cfg.profile, cfg.batch_size,
                                             tuple(split.X_train.shape[1:]), cfg.input_range, job_spec.device,
                                             lam=cfg.lam, recon_weight=cfg.recon_weight,
                                             scaling=job_spec.scaling if tabular else None)
    except Exception as e:  # noqa: BLE001: e.g. out of memory for a huge batch; say so, do not start
        st.error(f"**This setting could not run a training step here:** {user_text(e)}")
        return False
    est = training_estimate.estimate(measured, n_train, len(split.X_test), cfg.epochs, cfg.batch_size,
                                     cfg.selection_max_samples, jobs.TIMELINE_SAMPLES, jobs.timeline_every(cfg.epochs))
    st.info(f"**Estimated time: about {jobs.fmt_seconds(est['total_s'])}** on {n_train:,} training samples: "
            f"{est['steps']:,} steps × {est['step_s'] * 1000:.0f} ms, measured on {measured['steps']} steps of this "
            f"configuration on this server just now, plus {jobs.fmt_seconds(est['overhead_s'])} for the per-epoch "
            "health check, the timeline snapshots and the final scoring. Other work on the server (other "
            "trainings, page renders) changes it.")
    return True


# ------------------------------------------------------------------ jobs

def _job_card(snap: dict, token: str) -> None:
    spec = snap["spec"]
    with st.container(border=True):
        st.markdown(f"**Job {snap['id']}**: {spec.dataset}"
                    + ("" if spec.anomaly_class is None else f", anomaly class {spec.anomaly_class}")
                    + f", m = {spec.interpolation}, {snap['epochs'] or spec.epochs} epochs on {spec.device}: "
                      f"*{snap['status']}*")
        st.progress(snap["progress"], text=f"epoch {snap['epoch']}/{snap['epochs'] or spec.epochs or '?'} · step "
                                           f"{snap['step']}/{snap['total_steps'] or '?'} · elapsed "
                                           f"{jobs.fmt_seconds(snap['elapsed'])} · ETA "
                                           f"{jobs.fmt_seconds(snap['eta']) if not snap['done'] else '–'}")
        if snap["message"]:
            (st.error if snap["status"] == "failed" else st.caption)(snap["message"])
        if snap["history"] or snap["live"]:
            display.show_figure(training_figures.loss_curves(snap["history"], snap["epochs"] or spec.epochs,
                                                             live=snap["live"]), key=f"job-{snap['id']}-losses")
        if not snap["done"]:
            st.button("Stop", key=f"stop-{snap['id']}", on_click=jobs.stop, args=(snap["id"], token),
                      help="Stops after the current step; the weights so far are saved as a run.")


@guarded("the training jobs")
def _job_panel() -> None:
    token = owner.owner_token()
    mine = jobs.of_owner(token)
    others = [j for j in jobs.active() if j.owner != token]
    if not mine:
        st.caption("No training job of yours on this server.")
    for job in mine[:5]:
        snap = job.snapshot()
        _job_card(snap, token)
        if snap["done"] and snap["path"] and snap["id"] not in ss.setdefault("_announced", set()):
            ss["_announced"].add(snap["id"])
            st.rerun()  # refresh the table and the sidebar with the new run
    if others:
        st.caption(f"{len(others)} job(s) of other users are training on this server.")


def jobs_section() -> None:
    st.subheader("Training jobs")
    owner.remember()
    running = any(not j.done for j in jobs.of_owner(owner.owner_token()))
    st.fragment(_job_panel, run_every=1.0 if running else None)()
    earlier = jobs.journal(catalogue.runs_dir(), limit=10)
    if earlier:
        with st.expander(f"Jobs of earlier server runs ({len(earlier)})"):
            st.markdown("\n".join(f"- **{r.get('status')}** · {r.get('run')}: {r.get('message')}" for r in earlier))
