"""The Models page and the pages without data, with Streamlit's AppTest: loading, uploading, downloading, renaming,
deleting and training runs, health, the page guard, and the tabular and MNIST pages on the shared data."""
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from app_testing import APP, CHECKPOINTS, AppTest, lab_env, no_errors, open_tab, run_app  # noqa: E402,F401


# ------------------------------------------------------------------ models: table, load, upload, train


def test_models_page_loads_a_checkpoint_into_the_lab_beside_the_shipped_comparison():
    at = run_app("models")
    no_errors(at)
    assert at.title[0].value == "Models"
    assert at.radio(key="models_scope").value == "digits"  # the table follows the sidebar's dataset
    frame = at.dataframe[0].value
    assert {"name", "dataset", "class", "interpolation", "status", "health", "AUC", "F1"} <= set(frame.columns)
    assert set(frame["dataset"]) == {"digits"} and "digits-c7-m2" in set(frame["name"])
    assert "None" not in frame.to_csv()
    assert at.selectbox(key="models_pick").value == "digits-c0-m0"  # the sidebar's first model
    at.selectbox(key="models_pick").set_value("digits-c7-m2").run()
    at.button(key="models_use").click().run()
    no_errors(at)
    assert at.session_state["dataset"] == "digits" and at.session_state["anomaly_class"] == 7
    assert [Path(p).stem for p in at.multiselect(key="models").value] == ["digits-c7-m2", "digits-c7-m0",
                                                                          "digits-c7-m3"]


def test_models_page_refuses_a_bad_checkpoint_leaving_nothing_and_stores_a_good_one(lab_env):
    runs = lab_env / "runs"
    at = run_app("models", tab="Upload a checkpoint")  # opened from its URL: the table not drawn before
    meta = json.loads((CHECKPOINTS / "digits-c0-m3.json").read_text())
    meta["config"]["interpolation"] = [3]  # issue 11: refused, yet once stored and breaking every page
    bad = [("x.safetensors", (CHECKPOINTS / "digits-c0-m3.safetensors").read_bytes(), "application/octet-stream"),
           ("x.json", json.dumps(meta).encode(), "application/json")]
    at.file_uploader(key="models_upload").set_value(bad).run()
    at.button(key="models_add").click().run()
    assert not at.exception
    assert any("nothing was stored" in e.value and "interpolation" in e.value for e in at.error)
    assert not runs.exists() or not any(p.suffix in (".json", ".safetensors") for p in runs.iterdir())
    good = [(f"digits-c0-m3{ext}", (CHECKPOINTS / f"digits-c0-m3{ext}").read_bytes(), "application/octet-stream")
            for ext in (".safetensors", ".json")]
    at.file_uploader(key="models_upload").set_value(good).run()
    at.query_params.pop("models_tab")  # as the browser's URL follows the tabs (AppTest's does not)
    at.button(key="models_add").click().run()
    assert not at.exception
    assert (runs / "digits-c0-m3.safetensors").exists()
    at.run()
    assert at.session_state["models_tab"] == "Checkpoints"  # the table opens with the stored run picked
    assert at.selectbox(key="models_pick").value == "digits-c0-m3 (yours)"
    frame = at.dataframe[0].value
    assert ((frame["name"] == "digits-c0-m3") & (frame["source"] == "yours")).any()


def _store_run(runs: Path, name: str = "mine") -> Path:
    from core.checkpoints.store import load_bytes_checkpoint

    meta = json.loads((CHECKPOINTS / "digits-c0-m3.json").read_text())
    meta["weights_file"] = f"{name}.safetensors"
    return load_bytes_checkpoint((CHECKPOINTS / "digits-c0-m3.safetensors").read_bytes(), json.dumps(meta).encode(),
                                 runs)


def test_models_page_downloads_renames_and_deletes_your_run(lab_env):
    runs = lab_env / "runs"
    _store_run(runs, "mine")
    _store_run(runs, "taken")
    at = run_app("models")
    at.selectbox(key="models_pick").set_value("mine (yours)").run()
    no_errors(at)
    assert any(b.label == "Download (zip)" for b in at.get("download_button"))
    at.text_input(key="models_rename_to").set_value("taken").run()
    at.button(key="models_rename").click().run()
    assert any("Not renamed" in e.value and "already exists" in e.value for e in at.error)
    at.text_input(key="models_rename_to").set_value("renamed").run()
    at.button(key="models_rename").click().run()
    no_errors(at)
    assert {p.stem for p in runs.glob("*.json")} == {"renamed", "taken"}
    assert at.selectbox(key="models_pick").value == "renamed (yours)"
    at.button(key="models_delete").click().run()
    assert any("cannot be undone" in w.value for w in at.warning) and (runs / "renamed.json").exists()
    at.button(key="models_delete_confirm").click().run()
    no_errors(at)
    assert {p.stem for p in runs.glob("*.json")} == {"taken"} and not (runs / "renamed.safetensors").exists()
    at.selectbox(key="models_pick").set_value("digits-c0-m3").run()
    assert not any(b.key == "models_delete" for b in at.button)  # shipped checkpoints cannot be deleted


def test_a_bad_run_is_skipped_with_a_note_and_every_page_still_renders(lab_env):
    runs = lab_env / "runs"
    runs.mkdir()
    weights = (CHECKPOINTS / "digits-c0-m3.safetensors").read_bytes()
    meta = json.loads((CHECKPOINTS / "digits-c0-m3.json").read_text())
    for name, mutate in (("listy", lambda m: m["config"].update(interpolation=[3])),
                         ("stringy", lambda m: m.update(config="digits")), ("fine", lambda m: None)):
        m = json.loads(json.dumps(meta))
        mutate(m)
        m["weights_file"] = f"{name}.safetensors"
        (runs / f"{name}.safetensors").write_bytes(weights)
        (runs / f"{name}.json").write_text(json.dumps(m))
    (runs / "manifest.json").write_text("{not json")
    at = AppTest.from_file(str(APP), default_timeout=180)
    for page in (None, "simplex", "roc", "score", "models"):
        if page:
            at.switch_page(f"{page}/page.py")
        at.run()
        no_errors(at)
        note = [e for e in at.sidebar.expander if "skipped" in e.label]
        assert note and note[0].label.startswith("⚠ 3 file(s)"), [e.label for e in at.sidebar.expander]
        listed = " ".join(m.value for m in note[0].markdown)
        assert "`listy.safetensors`" in listed and "`stringy.safetensors`" in listed and "manifest.json" in listed
    assert ((at.dataframe[0].value["name"] == "fine") & (at.dataframe[0].value["source"] == "yours")).any()
    at.button(key="models_skipped_delete").click().run()
    at.button(key="models_skipped_confirm").click().run()
    no_errors(at)
    assert sorted(p.name for p in runs.iterdir()) == ["fine.json", "fine.safetensors", "manifest.json"]


@pytest.fixture(scope="module")
def healthy_run(tmp_path_factory):
    """A 2-epoch digits run saved as the lab saves its jobs: with health figures, a health record and a
    timeline."""
    from core import MirroredAE
    from core.evaluation.runner import ProtocolRun
    from core.training.timeline import TimelineCallback, save_timeline

    folder = tmp_path_factory.mktemp("healthy")
    run = ProtocolRun.prepare("digits", 0, seed=0, max_train=256)
    model = MirroredAE(preset="digits", epochs=2, recon_weight=1.0, device="cpu", contamination=run.contamination)
    cb = TimelineCallback(model, run.split.X_test[:50], every=1)
    outcome = run.fit_and_evaluate(model, callbacks=[cb])
    path = run.save(model, folder / "healthy", outcome, command="python -m core train --dataset digits")
    save_timeline(path, cb.epochs, cb.latents, np.arange(50))
    return folder


def test_models_page_shows_the_health_badge_curves_and_departures(lab_env, healthy_run):
    import shutil

    shutil.copytree(healthy_run, lab_env / "runs")
    at = run_app("models")
    at.selectbox(key="models_pick").set_value("healthy (yours)").run()
    no_errors(at)
    frame = at.dataframe[0].value
    verdict = frame.loc[frame["name"] == "healthy", "health"].iloc[0]
    assert verdict.split()[-1] in ("ok", "collapsed", "untrained")
    head = next(m.value for m in at.markdown if m.value.startswith("#### healthy"))
    assert "-badge[health: " in head and verdict in head
    assert any(m.value.startswith("**Not the paper's setting:**") and "recon_weight" in m.value for m in at.markdown)
    charts = [c for c in at.get("plotly_chart")]
    assert len(charts) >= 2  # the losses and the health curves
    health = json.loads(charts[1].proto.spec)
    assert {t["name"] for t in health["data"]} >= {"recon_ratio", "output_spread", "e_change", "g_change",
                                                   "latent_norm"}
    assert any("Training timeline: 2 snapshots" in c.value for c in at.caption)
    shipped = run_app("models")  # every shipped checkpoint carries its health record and curves
    assert "green-badge[health: ✔ ok]" in next(m.value for m in shipped.markdown if m.value.startswith("####"))
    assert not any("No training-health curves" in i.value for i in shipped.info)


def test_a_checkpoint_without_a_health_record_says_so(lab_env):
    import shutil

    from core.checkpoints.manifest import REPO_CHECKPOINTS

    runs = lab_env / "runs"
    runs.mkdir(exist_ok=True)
    meta = json.loads((REPO_CHECKPOINTS / "digits-c0-m3.json").read_text())
    meta.pop("health")  # as trained before the lab recorded health
    meta["history"] = {k: v for k, v in meta["history"].items()
                       if k not in ("recon_ratio", "output_spread", "e_change", "g_change", "latent_norm", "w_estimate")}
    meta["weights_file"] = "old.safetensors"
    (runs / "old.json").write_text(json.dumps(meta))
    shutil.copy(REPO_CHECKPOINTS / "digits-c0-m3.safetensors", runs / "old.safetensors")
    at = run_app("models")
    at.selectbox(key="models_pick").set_value("old (yours)").run()
    no_errors(at)
    assert any("No training-health curves" in i.value for i in at.info)
    assert "health: – not recorded" in next(m.value for m in at.markdown if m.value.startswith("#### old"))


def test_the_training_form_exposes_the_settings_and_estimates_the_time():
    at = run_app("models", tab="Train a model")
    no_errors(at)
    for key in ("train_dataset", "train_class", "train_m", "train_profile", "train_preset", "train_device"):
        assert at.selectbox(key=key).value is not None
    for key in ("train_lr", "train_batch", "train_epochs", "train_lam", "train_recon", "train_seed", "train_max"):
        assert at.number_input(key=key).value is not None
    assert at.selectbox(key="train_preset").value == "digits" and at.number_input(key="train_lr").value == 5e-4
    estimate = next(i.value for i in at.info if "Estimated time" in i.value)
    assert "measured on" in estimate and "steps ×" in estimate
    at.selectbox(key="train_profile").set_value("authors").run()
    at.number_input(key="train_batch").set_value(32).run()
    no_errors(at)
    assert any("profile authors" in c.value for c in at.caption)
    assert "Estimated time" in next(i.value for i in at.info if "Estimated time" in i.value)
    open_tab(at, "models", "Checkpoints")  # the form is not drawn there, and keeps its values
    assert not at.number_input and at.dataframe
    open_tab(at, "models", "Train a model")
    assert at.number_input(key="train_batch").value == 32 and at.selectbox(key="train_profile").value == "authors"
    at.selectbox(key="train_dataset").set_value("thyroid").run()  # no data here: said, and no start
    assert any("not available" in w.value for w in at.warning) and at.button(key="train_start").disabled


def _wait(predicate, timeout=120.0):
    end = time.time() + timeout
    while time.time() < end and not predicate():
        time.sleep(0.05)
    assert predicate()


def test_models_page_trains_in_the_background_and_lists_the_run(lab_env):
    from app.shared import jobs

    at = run_app("models", tab="Train a model")
    at.selectbox(key="train_class").set_value(4)
    at.selectbox(key="train_m").set_value(2)
    at.number_input(key="train_epochs").set_value(2).run()
    at.button(key="train_start").click().run()
    no_errors(at)
    job = jobs.of_owner(at.session_state["_owner"])[0]
    job.thread.join(timeout=120)
    assert job.status == "completed", job.message
    # the job's reported AUC is that of the saved model on the protocol's test set
    from core import MirroredAE
    from core.evaluation.metrics import auc
    from core.evaluation.protocols import split_for

    split = split_for("digits", 4)
    saved = MirroredAE.load(job.path, device="cpu")
    assert job.metrics["auc"] == pytest.approx(auc(split.y_test, saved.decision_function(split.X_test)), abs=1e-6)
    assert len(job.history["critic"]) == 2 and len(job.history["recon_ratio"]) == 2
    assert Path(job.path.replace(".safetensors", ".timeline.safetensors")).exists()
    at.run()
    no_errors(at)
    assert any("Job" in m.value and "completed" in m.value for m in at.markdown)
    open_tab(at, "models", "Checkpoints")
    at.radio(key="models_scope").set_value("your runs").run()
    frame = at.dataframe[0].value
    assert len(frame) == 1 and frame.iloc[0]["class"] == "4" and frame.iloc[0]["interpolation"] == "2-point simplex"


def test_a_reloaded_page_finds_its_running_job_with_progress_and_stop(lab_env, monkeypatch):
    """The owner token lives in a cookie (app/shared/owner.py); AppTest cannot send cookies, so the browser's cookie is
    stood in for. A new session with the same cookie is what a reload is."""
    from app.shared import jobs, owner

    token = "ab" * 16
    monkeypatch.setattr(owner, "browser_cookie", lambda: token)
    job = jobs.start(jobs.JobSpec(dataset="digits", anomaly_class=0, interpolation=3, epochs=300), lab_env / "runs",
                     owner=token)
    try:
        _wait(lambda: job.epoch >= 1)
        at = run_app("models", tab="Train a model")  # the reload
        no_errors(at)
        assert any(b.key == f"stop-{job.id}" for b in at.button)
        assert any(f"Job {job.id}" in m.value and "running" in m.value for m in at.markdown)
        assert not any("other users" in c.value for c in at.caption)
        on_table = run_app("models")  # another tab: the running job in one line, pointing to its tab
        assert any(f"Job {job.id} (digits): *running*" in c.value and "**Train a model**" in c.value
                   for c in on_table.caption)
        monkeypatch.setattr(owner, "browser_cookie", lambda: "cd" * 16)  # another browser: counted, no Stop
        other = run_app("models", tab="Train a model")
        assert not any(b.key == f"stop-{job.id}" for b in other.button)
        assert any("1 job(s) of other users" in c.value for c in other.caption)
        next(b for b in at.button if b.key == f"stop-{job.id}").click().run()
        job.thread.join(timeout=120)
        assert job.status == "stopped" and Path(job.path).exists()
    finally:
        jobs.stop(job.id)
        job.thread.join(timeout=120)


def test_a_queued_job_shows_its_place_in_line_then_runs(lab_env, monkeypatch):
    """MAESI_MAX_JOBS=1 (the pool's size, read once per server, stood in for): another user's job trains, this
    browser's job waits in line and says so, with the CPU threads the form gave it; it runs once the slot frees."""
    from app.shared import jobs, owner

    monkeypatch.setattr(jobs, "MAX_JOBS", 1)
    token = "ef" * 16
    monkeypatch.setattr(owner, "browser_cookie", lambda: token)
    theirs = jobs.start(jobs.JobSpec(dataset="digits", anomaly_class=0, epochs=300, threads=1), lab_env / "runs",
                        owner="12" * 16)
    mine = jobs.start(jobs.JobSpec(dataset="digits", anomaly_class=1, epochs=1, max_train=100, threads=1),
                      lab_env / "runs", owner=token)
    try:
        _wait(lambda: theirs.status == "running")
        at = run_app("models", tab="Train a model")
        no_errors(at)
        assert at.number_input(key="train_threads").value == jobs.default_threads()
        card = next(m.value for m in at.markdown if f"Job {mine.id}" in m.value)
        assert "(1 thread): *queued, 1st in line*" in card
        assert any("At most 1 job(s) train at once" in c.value for c in at.caption)
        assert any("1 job(s) of other users" in c.value for c in at.caption)
        jobs.stop(theirs.id)
        mine.thread.join(timeout=120)
        assert mine.status == "completed", mine.message
    finally:
        for job in (theirs, mine):
            jobs.stop(job.id)
            job.thread.join(timeout=120)


def test_stop_keeps_the_weights_so_far(lab_env):
    from app.shared import jobs

    spec = jobs.JobSpec(dataset="digits", anomaly_class=0, interpolation=3, epochs=50)
    job = jobs.start(spec, lab_env / "runs")
    _wait(lambda: job.step > 3 or job.done)
    jobs.stop(job.id)
    job.thread.join(timeout=120)
    assert job.status == "stopped", job.message
    assert Path(job.path).exists() and job.epoch < 50


def test_a_failing_page_shows_one_line_and_logs_the_traceback(monkeypatch, caplog):
    from app.shared import caches

    def broken(*a, **k):
        raise RuntimeError("/srv/secret/path exploded")

    monkeypatch.setattr(caches, "projection", broken)
    at = AppTest.from_file(str(APP), default_timeout=180).run()
    assert not at.exception
    text = " ".join(e.value for e in at.error)
    assert "Something went wrong in the Latent map page" in text and "reference" in text
    assert "/srv/secret" not in text and "Traceback" not in text
    assert any("exploded" in (r.exc_text or "") or "exploded" in str(r.exc_info) for r in caplog.records)


# ------------------------------------------------------------------ no data dir


@pytest.mark.parametrize("page", [None, "simplex", "roc", "score", "models"])
def test_missing_dataset_gives_a_message_not_a_crash(page):
    at = AppTest.from_file(str(APP), default_timeout=180).run()
    at.selectbox(key="dataset").set_value("mnist").run()
    if page:
        at.switch_page(f"{page}/page.py").run()
    assert not at.exception, [e.value for e in at.exception]
    if page in (None, "simplex", "roc"):
        assert any("MAESI_DATA" in w.value for w in at.warning)


# ------------------------------------------------------------------ tabular data (needs the shared data)


def test_tabular_pages_with_a_shipped_tabular_model(shared_data, monkeypatch):
    """Arrhythmia: a shipped tabular model (Thyroid ships none: no setting trained it healthy on its development
    partition, scripts/make_checkpoints.py)."""
    import json

    from core.checkpoints.manifest import find, scan_folder

    assert find(scan_folder(CHECKPOINTS), "arrhythmia"), "the shipped arrhythmia checkpoints are missing"
    width = json.loads((CHECKPOINTS / "arrhythmia-call-m3.json").read_text())["input_shape"][0]
    monkeypatch.setenv("MAESI_DATA", str(shared_data))
    at = AppTest.from_file(str(APP), default_timeout=180).run()
    at.selectbox(key="dataset").set_value("arrhythmia").run()
    no_errors(at)
    assert at.selectbox(key="anomaly_class").value == "all"
    for page in ("simplex", "roc", "score"):
        at.switch_page(f"{page}/page.py").run()
        no_errors(at)
    rows = (",".join(["1"] * width) + "\n" + ",".join(["0"] * width) + "\n").encode()
    at.file_uploader(key="score_files").set_value([("rows.csv", rows, "text/csv")]).run()
    no_errors(at)
    assert len(at.session_state["score_result"]) == 2
    at.file_uploader(key="score_files").set_value([("rows.csv", b"1,2,3\n", "text/csv")]).run()
    assert any(f"`rows.csv`: has 3 column(s) but the model takes {width} features" in e.value for e in at.error)


def test_image_pages_with_shipped_mnist(shared_data, monkeypatch):
    from core.checkpoints.manifest import find, load_manifest

    shipped = {e["anomaly_class"] for e in load_manifest(CHECKPOINTS) if e["dataset"] == "mnist"}
    assert len(shipped) == 1, f"one demo class of shipped mnist checkpoints, not {sorted(shipped)}"
    (demo,) = shipped
    assert len(find(load_manifest(CHECKPOINTS), "mnist", demo)) == 3  # no, 2-point and 3-point interpolation
    monkeypatch.setenv("MAESI_DATA", str(shared_data))
    at = AppTest.from_file(str(APP), default_timeout=300).run()
    at.selectbox(key="dataset").set_value("mnist").run()
    at.selectbox(key="anomaly_class").set_value(demo).run()
    no_errors(at)
    for page in ("simplex", "roc", "score"):
        at.switch_page(f"{page}/page.py").run()
        no_errors(at)
