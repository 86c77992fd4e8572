"""Your own data in the lab (AppTest): a dataset under $MAESI_DATA/user/ or uploaded on the Models page appears in
the sidebar, trains as a job, and every page works on it, with labels (metrics) and without (scores)."""
import io
import json
import os
import zipfile

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from app_testing import AppTest, APP, lab_env, no_errors, open_tab, run_app  # noqa: E402,F401

PAGES = ("latent_map", "simplex", "roc", "score", "models")


def _targets() -> np.ndarray:
    from sklearn.datasets import load_digits

    return load_digits().target


def _digits_zip(n: int = 260) -> bytes:
    """The first n 8x8 digits as PNGs in a zip: digits/normal/ (classes 0-8) and digits/abnormal/ (class 9)."""
    from PIL import Image
    from sklearn.datasets import load_digits

    d = load_digits()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for i, (img, y) in enumerate(zip(d.images[:n], d.target[:n])):
            png = io.BytesIO()
            Image.fromarray((img * 255 / 16).round().astype(np.uint8), "L").save(png, "PNG")
            z.writestr(f"digits/{'abnormal' if y == 9 else 'normal'}/{i:04d}.png", png.getvalue())
    return buf.getvalue()


def _digits_csv(n: int = 300, labels: bool = True) -> bytes:
    from sklearn.datasets import load_digits

    d = load_digits()
    header = [f"p{j}" for j in range(64)] + (["y"] if labels else [])
    rows = [",".join(f"{v:g}" for v in x) + (f",{int(t == 9)}" if labels else "")
            for x, t in zip(d.data[:n], d.target[:n])]
    return ("\n".join([",".join(header), *rows]) + "\n").encode()


@pytest.fixture
def user_dirs(lab_env, monkeypatch):
    data, store = lab_env / "data", lab_env / "store"
    (data / "user").mkdir(parents=True)
    monkeypatch.setenv("MAESI_DATA", str(data))
    monkeypatch.setenv("MAESI_USER_DATA", str(store))
    return data / "user", store


def _train(at, epochs: int = 1, preset=None):
    from app.shared import jobs

    at.session_state["models_tab"] = "Train a model"
    at.switch_page("models/page.py").run()
    no_errors(at)
    if preset:
        at.selectbox(key="train_preset").set_value(preset)
    at.number_input(key="train_epochs").set_value(epochs).run()
    no_errors(at)
    at.button(key="train_start").click().run()
    no_errors(at)
    job = jobs.of_owner(at.session_state["_owner"])[0]
    job.thread.join(timeout=300)
    assert job.status == "completed", job.message
    at.run()
    return job


def _every_page(at):
    for page in PAGES:
        at.switch_page(f"{page}/page.py").run()
        no_errors(at)


def test_a_zip_of_folders_in_the_data_dir_trains_in_the_lab_and_every_page_works(user_dirs):
    (user_dirs[0] / "smalldigits.zip").write_bytes(_digits_zip())
    at = run_app()
    assert "user.smalldigits" in at.selectbox(key="dataset").options
    at.selectbox(key="dataset").set_value("user.smalldigits").run()
    at.session_state["models_tab"] = "Train a model"
    at.switch_page("models/page.py").run()
    assert at.selectbox(key="train_preset").options == ["mnist", "mnist_small"]  # the presets of 1x28x28
    assert at.selectbox(key="train_preset").value == "mnist"  # the paper's MNIST network by default
    job = _train(at, preset="mnist_small")
    assert "AUC" in job.message and job.metrics["auc"] is not None
    assert at.multiselect(key="models").value == [job.path]  # the first run of a dataset is selected
    meta = json.loads(open(job.path.replace(".safetensors", ".json")).read())
    nines = int((_targets()[:260] == 9).sum())
    assert meta["data_source"]["counts"] == {"normal": 260 - nines, "anomalies": nines}
    assert meta["command"].startswith("python -m core train --folder ")
    _every_page(at)
    at.switch_page("latent_map/page.py").run()
    assert at.radio(key="map_colour").options == ["normal vs anomaly", "by class", "anomaly score"]
    assert any("k-NN AUC" in m.value for m in at.markdown)


def test_a_table_without_labels_explores_by_score(user_dirs):
    (user_dirs[0] / "nolabels.csv").write_bytes(_digits_csv(labels=False))
    at = run_app()
    at.selectbox(key="dataset").set_value("user.nolabels").run()
    at.session_state["models_tab"] = "Train a model"
    at.switch_page("models/page.py").run()
    at.number_input(key="train_contamination").set_value(0.2)
    job = _train(at, epochs=2)
    assert "no labelled anomaly" in job.message
    _every_page(at)
    at.switch_page("latent_map/page.py").run()
    assert at.radio(key="map_colour").options == ["anomaly score", "by class"]
    assert any("no labelled anomaly, so no AUC" in m.value and "contamination 0.2" in m.value for m in at.markdown)
    assert any("No normal-vs-anomaly separation by epoch" in c.value for c in at.caption)  # no empty chart
    at.switch_page("roc/page.py").run()
    assert any("No ROC curve" in i.value for i in at.info)
    open_tab(at, "roc", "Threshold and samples (Fig. 4)")
    assert "flagged" in [m.label for m in at.metric] and "precision" not in [m.label for m in at.metric]


def test_an_upload_is_stored_only_when_it_loads_and_then_appears_in_the_sidebar(user_dirs):
    from app.models.your_data import NotAdded, store_upload

    _, store = user_dirs
    bad = _digits_csv().replace(b",1\n", b",maybe\n", 1)
    with pytest.raises(NotAdded, match="was not added.*'maybe'"):
        store_upload("bad.csv", bad, options={"label_column": "y"})
    assert not store.exists() or not any(store.iterdir())  # nothing stored
    source, ds, _ = store_upload("mine.csv", _digits_csv(), options={"label_column": "y", "normal_dir": "ignored"})
    assert source.name == "user.mine" and int(ds.y.sum()) == int((_targets()[:300] == 9).sum())
    assert json.loads((store / "mine.csv.maesi.json").read_text()) == {"label_column": "y"}
    with pytest.raises(NotAdded, match="exists already"):
        store_upload("mine.csv", _digits_csv())
    with pytest.raises(NotAdded, match="was not added"):
        store_upload("pics.zip", b"PK\x03\x04 not really a zip")
    assert not (store / "pics.zip").exists()
    with pytest.raises(NotAdded, match="a .zip of class folders"):
        store_upload("model.pkl", b"\x80\x04")
    at = run_app("models", tab="Your data")
    assert "user.mine" in at.selectbox(key="dataset").options
    at.selectbox(key="dataset").set_value("user.mine").run()
    no_errors(at)
    assert any("**user.mine**" in m.value for m in at.markdown)  # listed under Your data


def test_a_checkpoint_trained_by_the_cli_on_any_folder_brings_its_dataset(user_dirs, lab_env, capsys):
    from core.cli import main

    folder = lab_env / "elsewhere"
    folder.mkdir()
    (folder / "t.csv").write_bytes(_digits_csv())
    runs = lab_env / "runs"
    assert main(["train", "--table", str(folder / "t.csv"), "--label-column", "y", "--epochs", "1", "--out",
                 str(runs / "cli-run")]) == 0
    at = run_app()
    assert any(o.startswith("user.t ") for o in at.selectbox(key="dataset").options)  # from the sidecar
    at.selectbox(key="dataset").set_value("user.t").run()
    assert at.multiselect(key="models").value and at.multiselect(key="models").value[0].endswith("cli-run.safetensors")
    _every_page(at)


def test_a_run_whose_data_was_deleted_says_so_on_every_page(user_dirs, lab_env):
    from core.cli import main

    table = lab_env / "gone.csv"
    table.write_bytes(_digits_csv())
    assert main(["train", "--table", str(table), "--label-column", "y", "--epochs", "1", "--out",
                 str(lab_env / "runs" / "orphan")]) == 0
    table.unlink()
    at = run_app()
    at.selectbox(key="dataset").set_value("user.gone").run()
    for page in PAGES:
        at.switch_page(f"{page}/page.py").run()
        no_errors(at)  # the Score page still scores uploads with the model; the others need the data:
        if page in ("latent_map", "simplex", "roc"):
            assert any("user.gone data cannot be read here" in w.value for w in at.warning), page
