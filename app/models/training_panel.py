"""The Models page's training sections: the form (profile, preset, learning rate, batch size, epochs, seed,
scaling, recon weight, max training samples, ...) with an estimated time before the start, and the jobs panel
(this browser's jobs with progress, live losses and Stop, found again after a page reload through the owner
cookie of app/shared/owner.py; what happened to the jobs of an earlier server process)."""
from __future__ import annotations

import os

import streamlit as st

from app.models import form_memory, keys, training_estimate, training_figures
from app.shared import caches, catalogue, display, jobs, keys as shared_keys, owner, ray_jobs, sidebar
from app.shared.guard import guarded, user_text
from app.shared.labels import interpolation_label

ss = st.session_state


def _defaults(preset: str, profile: str) -> dict:
    """The form's values of a preset and profile, by the keys of their widgets."""
    from core.method.config import make_config

    cfg = make_config(preset, profile)
    return {keys.TRAIN_LR: float(cfg.opt_encoder.lr), keys.TRAIN_BATCH: int(cfg.batch_size),
            keys.TRAIN_EPOCHS: int(cfg.epochs), keys.TRAIN_LAM: float(cfg.lam),
            keys.TRAIN_RECON: float(cfg.recon_weight),
            keys.TRAIN_SCALING: cfg.scaling if cfg.arch.family == "mlp" else None}


def _spec_from_form(dataset: str, klass, defaults: dict, tabular: bool) -> jobs.JobSpec:
    """The job of the form's values; a value left at the preset's default is passed as None (so that the
    recorded command and the departures say only what was changed)."""
    def changed(key, cast=float):
        value = cast(ss[key])
        return None if defaults.get(key) is not None and value == cast(defaults[key]) else value

    from core.data.registry import get_spec

    source = get_spec(dataset).user_source
    return jobs.JobSpec(dataset=dataset, anomaly_class=klass, interpolation=ss[keys.TRAIN_INTERPOLATION],
                        preset=ss[keys.TRAIN_PRESET], profile=ss[keys.TRAIN_PROFILE], lr=changed(keys.TRAIN_LR),
                        batch_size=changed(keys.TRAIN_BATCH, int), epochs=int(ss[keys.TRAIN_EPOCHS]),
                        lam=changed(keys.TRAIN_LAM), recon_weight=changed(keys.TRAIN_RECON),
                        scaling=changed(keys.TRAIN_SCALING, str) if tabular else None,
                        seed=int(ss[keys.TRAIN_SEED]), max_train=int(ss[keys.TRAIN_MAX]) or None,
                        device=ss[keys.TRAIN_DEVICE], data_dir=catalogue.data_dir(),
                        threads=int(ss[keys.TRAIN_THREADS]),
                        user_data=None if source is None else source.options(),
                        contamination=float(ss[keys.TRAIN_CONTAMINATION]) if source is not None else None)


def _what_to_train(ctx):
    """The first row of the form: dataset, class, interpolation and profile; returns (dataset, its spec, class)."""
    from core.data.registry import get_spec
    from core.method.config import DEFAULT_PROFILE, PROFILES

    choices = sidebar.dataset_choices()
    if ss.get(keys.TRAIN_DATASET) not in choices:
        ss[keys.TRAIN_DATASET] = ctx.dataset
    f1, f2, f3, f4 = st.columns(4)
    dataset = f1.selectbox("Dataset", choices, key=keys.TRAIN_DATASET)
    spec = get_spec(dataset)
    classes = [sidebar.ALL] if spec.one_split else list(spec.classes)
    if ss.get(keys.TRAIN_CLASS) not in classes:
        here = ctx.dataset == dataset and ctx.anomaly_class in classes
        ss[keys.TRAIN_CLASS] = ctx.anomaly_class if here else classes[0]
    klass = f2.selectbox((spec.class_role or "anomaly class").capitalize(), classes, key=keys.TRAIN_CLASS,
                         disabled=spec.one_split, help="Tabular datasets and your own give their anomalies.")
    f3.selectbox("Interpolation m", [3, 2, 0, "acai"], key=keys.TRAIN_INTERPOLATION,
                 format_func=lambda m: f"{m} · {interpolation_label(m)}")
    ss.setdefault(keys.TRAIN_PROFILE, DEFAULT_PROFILE)
    f4.selectbox("Profile", list(PROFILES), key=keys.TRAIN_PROFILE,
                 help="paper: the paper's text; authors (the default, chosen on validation seeds): what the authors' "
                      "public code does where it differs (5 critic steps per E/G step, hinge loss with spectral norm, "
                      "...; see core/method/config.py).")
    return dataset, spec, None if klass == sidebar.ALL else klass


def _how_to_train(dataset: str, spec, tabular: bool) -> dict:
    """The form's hyper-parameters, filled with the preset's and profile's defaults whenever either changes;
    returns those defaults."""
    import torch

    from core.method.config import PRESETS, TABULAR_SCALINGS

    presets = [p for p in PRESETS if (PRESETS[p].arch.family == "mlp") == tabular]
    own_preset, own_presets = _own_presets(dataset, spec)
    presets = own_presets or presets  # a user's data: the presets of its shape
    if ss.get(keys.TRAIN_PRESET_FOR) != dataset or ss.get(keys.TRAIN_PRESET) not in presets:
        default = own_preset or spec.preset
        ss[keys.TRAIN_PRESET] = default if default in presets else presets[0]
    ss[keys.TRAIN_PRESET_FOR] = dataset
    g1, g2, g3, g4, g5 = st.columns(5)
    preset = g1.selectbox("Preset", presets, key=keys.TRAIN_PRESET, help="Architecture and hyper-parameters; the "
                          "dataset's own preset is the paper's (see core/method/config.py).")
    defaults = _defaults(preset, ss[keys.TRAIN_PROFILE])
    if ss.get(keys.TRAIN_DEFAULTS_FOR) != (preset, ss[keys.TRAIN_PROFILE]):  # a new preset or profile
        ss[keys.TRAIN_DEFAULTS_FOR] = (preset, ss[keys.TRAIN_PROFILE])
        ss.update({k: v for k, v in defaults.items() if v is not None})
    # Streamlit drops a widget's value on a page that does not draw it: back here, the missing ones start at
    # the preset's values again (not at the widgets' minimums, e.g. a batch of 2)
    ss.update({k: v for k, v in defaults.items() if v is not None and k not in ss})
    g2.number_input("Learning rate", 1e-7, 1.0, key=keys.TRAIN_LR, format="%.2e", step=1e-5,
                    help="Of E, G and the critics alike (the presets use one rate for all three).")
    g3.number_input("Batch size", 2, 4096, key=keys.TRAIN_BATCH, step=16)
    g4.number_input("Epochs", 1, 1000, key=keys.TRAIN_EPOCHS)
    cores = os.cpu_count() or 1
    ss.setdefault(keys.TRAIN_THREADS, min(cores, jobs.default_threads()))
    g5.number_input("CPU threads", 1, cores, key=keys.TRAIN_THREADS,
                    help=f"torch threads of the job's own worker process. The default shares this server's {cores} "
                         f"core(s) among the {jobs.pool_size()} job(s) that may train at once (MAESI_MAX_JOBS); "
                         "small models gain little from more.")
    h1, h2, h3, h4, h5, h6 = st.columns(6)
    h1.number_input("λ (interpolation weight)", 0.0, 10.0, key=keys.TRAIN_LAM, step=0.1)
    h2.number_input("Recon weight", 0.0, 100.0, key=keys.TRAIN_RECON, step=0.5,
                    help="Adds W·‖x − G(E(x))‖² to the E/G loss: a stabiliser, not in the paper (0 = the "
                         "paper).")
    if tabular:
        h3.selectbox("Scaling", list(TABULAR_SCALINGS), key=keys.TRAIN_SCALING,
                     help="Of the tabular features, fitted on the training normals (the paper does not say).")
    else:
        h3.selectbox("Scaling", ["range"], key=keys.TRAIN_SCALING_IMAGES, disabled=True,
                     help="Images: the pixel range mapped to [-1, 1], the range of G's tanh.")
    # no value= beside a key a reload may refill (Streamlit warns of the two); both start at their minimum, 0
    h4.number_input("Seed", 0, 10_000, key=keys.TRAIN_SEED)
    h5.number_input("Max samples (0 = all)", 0, 10_000_000, step=1000, key=keys.TRAIN_MAX,
                    help="Max training samples: a seeded subset, for quick runs on large datasets (as --max-train).")
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    if ss.get(keys.TRAIN_DEVICE) not in devices:
        ss.pop(keys.TRAIN_DEVICE, None)
    h6.selectbox("Device", devices, key=keys.TRAIN_DEVICE, help="cuda is offered when a GPU is visible.")
    if spec.user_source is not None:
        ss.setdefault(keys.TRAIN_CONTAMINATION, 0.1)
        st.number_input("Contamination", 0.001, 0.5, step=0.01, key=keys.TRAIN_CONTAMINATION, format="%.3f",
                        help="Share of the training scores above the threshold that flags anomalies (PyOD's "
                             "default 0.1): your data's anomaly share is not known.")
    return defaults


def _own_presets(dataset: str, spec) -> tuple[str, list]:
    """A user dataset's default preset and the presets of its loaded shape (("", []) for registry datasets or
    unloadable data)."""
    from core.data.user_data import presets_for_shape

    ds = caches.dataset(dataset)[0] if spec.user_source is not None else None
    if ds is None:
        return "", []
    try:
        return spec.preset_for(ds), presets_for_shape(ds.sample_shape)
    except ValueError:
        return "", []


def training_form(ctx) -> None:
    """The form, its departures from the paper, the time estimate and the Start button."""
    _recall_last_form()
    dataset, spec, klass = _what_to_train(ctx)
    tabular = spec.kind == "tabular"
    defaults = _how_to_train(dataset, spec, tabular)
    job_spec = _spec_from_form(dataset, klass, defaults, tabular)
    ready = _check_and_estimate(job_spec, tabular)
    busy = any(not j.done for j in jobs.of_owner(owner.owner_token()))
    if st.button("Start training", key=keys.TRAIN_START, type="primary", disabled=not ready or busy,
                 help="One job per browser at a time." if busy else None):
        job = jobs.start(job_spec, catalogue.runs_dir(), owner=owner.owner_token())
        form_memory.remember(owner.owner_token(), {k: ss[k] for k in keys.REMEMBERED_FORM if k in ss})
        ss[shared_keys.FLASH] = f"Training job {job.id} started."
        st.rerun()


def _recall_last_form() -> None:
    """Once per session: the form as this browser last submitted it. A reload is a new session, and the form
    started over from the defaults, losing a long list of settings."""
    if ss.get(keys.TRAIN_RECALLED):
        return
    ss[keys.TRAIN_RECALLED] = True
    last = form_memory.recall(owner.owner_token())
    if not last:
        return
    ss.update(last)
    # the form resets the preset for a new dataset, and the hyper-parameters for a new preset or profile: these
    # belong together already
    ss[keys.TRAIN_PRESET_FOR] = last.get(keys.TRAIN_DATASET)
    ss[keys.TRAIN_DEFAULTS_FOR] = (last.get(keys.TRAIN_PRESET), last.get(keys.TRAIN_PROFILE))


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

def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def job_status(snap: dict) -> str:
    """The job's status in words: a queued job with its place in the queue ("queued, 2nd in line")."""
    if snap["status"] == "queued" and snap.get("place"):
        return f"queued, {_ordinal(snap['place'])} in line"
    return snap["status"]


def _job_card(snap: dict, token: str) -> None:
    spec = snap["spec"]
    threads = spec.threads or jobs.default_threads()
    with st.container(border=True):
        st.markdown(f"**Job {snap['id']}**: {spec.dataset}"
                    + ("" if spec.anomaly_class is None else f", anomaly class {spec.anomaly_class}")
                    + f", m = {spec.interpolation}, {snap['epochs'] or spec.epochs} epochs on {spec.device} "
                      f"({threads} thread{'s' if threads > 1 else ''}): *{job_status(snap)}*")
        st.progress(snap["progress"], text=f"epoch {snap['epoch']}/{snap['epochs'] or spec.epochs or '?'} · step "
                                           f"{snap['step']}/{snap['total_steps'] or '?'} · elapsed "
                                           f"{jobs.fmt_seconds(snap['elapsed'])} · ETA "
                                           f"{jobs.fmt_seconds(snap['eta']) if not snap['done'] else '–'}")
        if snap["message"]:
            (st.error if snap["status"] == "failed" else st.caption)(snap["message"])
        if snap["history"] or snap["live"]:
            display.show_figure(training_figures.loss_curves(snap["history"], snap["epochs"] or spec.epochs,
                                                             live=snap["live"]), key=keys.job_losses(snap["id"]))
        if not snap["done"]:
            queued = snap["status"] == "queued"
            st.button("Stop", key=keys.job_stop(snap["id"]), on_click=jobs.stop, args=(snap["id"], token),
                      help="Takes it out of the queue; nothing is trained." if queued else
                      "Stops after the current step; the weights so far are saved as a run.")


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
        _announce_if_finished(snap)
    if others:
        st.caption(f"{len(others)} job(s) of other users are training or queued on this server.")
    if mine and any(j.status == "queued" for j in mine):
        st.caption(f"At most {jobs.pool_size()} job(s) train at once on this server (MAESI_MAX_JOBS); the others "
                   "wait in line.")
    if ray_jobs.ray_address():
        st.caption(f"Jobs train on the Ray cluster at {ray_jobs.ray_address()} (MAESI_RAY_ADDRESS); their runs "
                   "come back to this server's runs folder.")


def _announce_if_finished(snap: dict) -> None:
    """A job that has just saved its run reloads the page once, so that the table and the sidebar list it."""
    if snap["done"] and snap["path"] and snap["id"] not in ss.setdefault(keys.ANNOUNCED, set()):
        ss[keys.ANNOUNCED].add(snap["id"])
        st.rerun()


@guarded("the training jobs")
def _notice_panel() -> None:
    snaps = [j.snapshot() for j in jobs.of_owner(owner.owner_token())[:5]]
    for snap in snaps:
        _announce_if_finished(snap)
    active = [s for s in snaps if not s["done"]]
    if active:
        st.caption(" · ".join(f"Job {s['id']} ({s['spec'].dataset}): *{job_status(s)}*, epoch {s['epoch']}/"
                              f"{s['epochs'] or s['spec'].epochs or '?'}" for s in active)
                   + ". Follow or stop it on the **Train a model** tab.")


def jobs_notice() -> None:
    """Above a tab other than Train: this browser's running jobs in one line, refreshed while they run; a job
    that finishes reloads the page, so that its run appears in the table and the sidebar."""
    owner.remember()
    running = any(not j.done for j in jobs.of_owner(owner.owner_token()))
    if running:
        st.fragment(_notice_panel, run_every=2.0)()


def jobs_section() -> None:
    st.subheader("Training jobs")
    owner.remember()
    running = any(not j.done for j in jobs.of_owner(owner.owner_token()))
    st.fragment(_job_panel, run_every=1.0 if running else None)()
    earlier = jobs.journal(catalogue.runs_dir(), limit=10)
    if earlier:
        with st.expander(f"Jobs of earlier server runs ({len(earlier)})"):
            st.markdown("\n".join(f"- **{r.get('status')}** · {r.get('run')}: {r.get('message')}" for r in earlier))
