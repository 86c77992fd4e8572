"""Your own data: a folder of images (DIR/normal/, DIR/abnormal/...) or a table (CSV, NPY) trained with
`python -m core train --folder/--table`, scored with `python -m core score`; the "own" split, the loader's one-line
refusals and notes, zips, the user-data folders the lab lists, and the preset chosen from the shape.

The data is scikit-learn's 8x8 digits written out at test time: classes 0-8 are normal, class 9 the anomaly."""
import contextlib
import csv
import hashlib
import io
import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.cli import main as cli_main
from core.data import registry
from core.data.dataset import Dataset
from core.data.user_data import (MIN_NORMAL_TRAIN, UserDataError, UserDataSource, discover, load_user_data,
                                 preset_for_shape, presets_for_shape)
from core.evaluation.protocols import own_split

N_IMAGES = 300  # the first 300 digits: 269 normal (0-8), 31 anomalies (9)
ANOMALY = 9


@pytest.fixture(scope="module", autouse=True)
def isolated(tmp_path_factory):
    """The data dir, the upload store and the cache in temporary folders, and this module's own registry of user
    datasets (the CLI registers the ones it trains on in the process)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MAESI_DATA", str(tmp_path_factory.mktemp("data")))
        mp.setenv("MAESI_USER_DATA", str(tmp_path_factory.mktemp("uploads")))
        mp.setenv("MAESI_CACHE", str(tmp_path_factory.mktemp("cache")))
        mp.setattr(registry, "_USER_DATASETS", {})
        yield


@pytest.fixture(scope="module")
def digits():
    """(images uint8 0..255 (N, 8, 8), 64 raw features 0..16 (N, 64), classes (N,))."""
    from sklearn.datasets import load_digits

    d = load_digits()
    images = np.round(d.images[:N_IMAGES] * (255 / 16)).astype(np.uint8)
    return images, d.data[:N_IMAGES].astype(int), d.target[:N_IMAGES]


def write_folder(root: Path, images, classes, normal="normal", abnormal="abnormal") -> Path:
    for i, (im, c) in enumerate(zip(images, classes)):
        sub = root / (abnormal if c == ANOMALY else normal)
        sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(im).save(sub / f"{i:04d}.png")
    return root


def write_csv(path: Path, features, labels=None, label_name="y") -> Path:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([f"p{j}" for j in range(features.shape[1])] + ([] if labels is None else [label_name]))
        for i, row in enumerate(features):
            w.writerow(list(row) + ([] if labels is None else [labels[i]]))
    return path


@pytest.fixture(scope="module")
def folder(tmp_path_factory, digits) -> Path:
    images, _, classes = digits
    return write_folder(tmp_path_factory.mktemp("own") / "digits", images, classes)


@pytest.fixture(scope="module")
def table(tmp_path_factory, digits) -> Path:
    _, features, classes = digits
    return write_csv(tmp_path_factory.mktemp("own") / "digits.csv", features, (classes == ANOMALY).astype(int))


def cli(argv: list[str]) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `python -m core ARGV`, in this process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli_main(argv)
    return code, out.getvalue(), err.getvalue()


def one_line_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err and len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


# ------------------------------------------------------------------ a folder of images, through the CLI


@pytest.fixture(scope="module")
def folder_run(folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "digits-own"
    code, printed, err = cli(["train", "--folder", str(folder), "--normal-dir", "normal", "--abnormal-dir", "abnormal",
                              "--epochs", "1", "--preset", "mnist_small", "--seed", "3", "--normal-test-ratio", "0.25",
                              "--device", "cpu", "--out", str(out)])
    assert code == 0, err
    return out, printed


def test_train_on_a_folder_prints_its_metrics_and_saves_the_run(folder_run):
    out, printed = folder_run
    assert re.search(r"^test AUC \d\.\d{4} AP \d\.\d{4}", printed, re.M), printed
    assert f"saved {out}.safetensors" in printed
    assert out.with_suffix(".safetensors").is_file() and out.with_suffix(".json").is_file()
    assert "images resized to 28x28 (found 8x8 (300))" in printed  # the loader's note, printed before training


def test_the_sidecar_records_where_the_data_came_from(folder_run, folder):
    side = json.loads(folder_run[0].with_suffix(".json").read_text())
    normal = sorted(p.relative_to(folder).as_posix() for p in (folder / "normal").glob("*.png"))
    abnormal = sorted(p.relative_to(folder).as_posix() for p in (folder / "abnormal").glob("*.png"))
    rec = side["data_source"]
    assert (rec["kind"], rec["name"], rec["path"]) == ("folder", "user.digits", str(folder))
    assert (rec["normal_dir"], rec["abnormal_dirs"], rec["normal_test_ratio"]) == ("normal", ["abnormal"], 0.25)
    assert rec["counts"] == {"normal": len(normal), "anomalies": len(abnormal)} == {"normal": 269, "anomalies": 31}
    assert rec["files_sha256"] == hashlib.sha256("\n".join(sorted(normal + abnormal)).encode()).hexdigest()
    assert side["dataset"] == "user.digits" and side["seed"] == 3
    n_test = round(0.25 * len(normal))
    assert side["n_train"] == len(normal) - n_test
    assert f"test {n_test} normal + {len(abnormal)} anomalies" in side["split"] and "seed 3" in side["split"]


def test_the_record_rebuilds_the_same_split(folder_run):
    side = json.loads(folder_run[0].with_suffix(".json").read_text())
    source = UserDataSource.from_record(side["data_source"])
    ds, _ = load_user_data(source)
    split = own_split(ds, side["seed"], source.normal_test_ratio)
    assert split.description == side["split"] and len(split.X_train) == side["n_train"]
    assert own_split(ds, side["seed"] + 1, source.normal_test_ratio).description != side["split"]


def test_score_gives_every_abnormal_file_a_row(folder_run, folder, tmp_path):
    from core import MirroredAE

    scores_csv = tmp_path / "scores.csv"
    code, _, err = cli(["score", "--checkpoint", str(folder_run[0]), "--input", str(folder / "abnormal"),
                        "--output", str(scores_csv), "--device", "cpu"])
    assert code == 0, err
    rows = list(csv.DictReader(scores_csv.open()))
    files = sorted(p.name for p in (folder / "abnormal").glob("*.png"))
    assert sorted(Path(r["name"]).name for r in rows) == files and len(rows) == 31
    # the same pixels as in training: scoring reads and resizes a file as the loader did
    ds, _ = load_user_data(UserDataSource.for_path(folder))
    model = MirroredAE.load(folder_run[0], device="cpu")
    expected = dict(zip(files, model.decision_function(ds.X_test)))
    for r in rows:
        assert float(r["score"]) == pytest.approx(float(expected[Path(r["name"]).name]), rel=1e-4)
        assert r["label"] in ("0", "1")


# ------------------------------------------------------------------ a table, through the CLI


def test_train_on_a_labelled_table_prints_auc_and_f1(table, tmp_path, digits):
    out = tmp_path / "tab"
    code, printed, err = cli(["train", "--table", str(table), "--label-column", "y", "--epochs", "1", "--device",
                              "cpu", "--out", str(out)])
    assert code == 0, err
    assert re.search(r"^test AUC \d\.\d{4} AP \d\.\d{4} PRECISION \d\.\d{4} RECALL \d\.\d{4} F1 \d\.\d{4}", printed,
                     re.M), printed
    assert "preset kdd99" in printed  # 64 columns: KDD99's MLP (Thyroid's takes up to 20)
    rec = json.loads(out.with_suffix(".json").read_text())["data_source"]
    n_anomalies = int((digits[2] == ANOMALY).sum())
    assert (rec["kind"], rec["label_column"]) == ("table", "y")
    assert rec["counts"] == {"normal": N_IMAGES - n_anomalies, "anomalies": n_anomalies}


def test_train_on_an_unlabelled_table_prints_the_score_distribution_and_no_metric(digits, tmp_path):
    table = write_csv(tmp_path / "readings.csv", digits[1])
    out = tmp_path / "unlabelled"
    code, printed, err = cli(["train", "--table", str(table), "--epochs", "1", "--device", "cpu", "--out", str(out)])
    assert code == 0, err
    assert "no labelled anomalies in the test set, so no metric" in printed
    n_test = round(0.2 * N_IMAGES)
    assert re.search(r"^held-out normal scores: min \S+, 5% \S+, median \S+, 95% \S+, max \S+; the threshold \S+ "
                     rf"\(contamination 0\.1 of the training scores\) flags \d+ of {n_test}$", printed, re.M), printed
    assert "AUC" not in printed
    assert json.loads(out.with_suffix(".json").read_text())["data_source"]["counts"] == {"normal": N_IMAGES,
                                                                                         "anomalies": 0}


# ------------------------------------------------------------------ the split


def tiny(kind: str, n_normal=50, n_anomalies=7) -> Dataset:
    """Samples whose first value is their id: normals 0.., anomalies 200.."""
    if kind == "image":
        normals = np.repeat(np.arange(n_normal, dtype=np.uint8), 4).reshape(n_normal, 1, 2, 2)
        anomalies = np.repeat(np.arange(200, 200 + n_anomalies, dtype=np.uint8), 4).reshape(n_anomalies, 1, 2, 2)
        return Dataset("user.tiny", "image", "", X_train=normals, y_train=np.zeros(n_normal, np.int64),
                       X_test=anomalies, y_test=np.ones(n_anomalies, np.int64), class_names=["normal", "abnormal"],
                       input_range=(0, 255))
    ids = np.concatenate([np.arange(n_normal), np.arange(200, 200 + n_anomalies)])
    order = np.random.default_rng(5).permutation(len(ids))  # anomalies among the normals, as in a real table
    X = np.stack([ids, ids * 2.0, -ids], axis=1).astype(np.float32)[order]
    y = (ids >= 200).astype(np.int64)[order]
    return Dataset("user.tiny", "tabular", "", X=X, y=y, feature_names=["a", "b", "c"])


def ids(X) -> np.ndarray:
    return X.reshape(len(X), -1)[:, 0].astype(int)


@pytest.mark.parametrize("kind", ["image", "tabular"])
@pytest.mark.parametrize("ratio", [0.2, 0.5])
def test_own_split_trains_on_normals_and_tests_a_seeded_share_of_them_with_every_anomaly(kind, ratio):
    split = own_split(tiny(kind), seed=0, normal_test_ratio=ratio)
    train, test = ids(split.X_train), ids(split.X_test)
    assert (train < 200).all(), "an anomaly in the training set"
    assert sorted(test[split.y_test == 1]) == list(range(200, 207)), "every anomaly is tested, labelled 1"
    assert (test[split.y_test == 0] < 200).all()
    test_normals = test[split.y_test == 0]
    assert len(test_normals) == round(ratio * 50)
    assert not set(train) & set(test_normals) and sorted([*train, *test_normals]) == list(range(50))
    assert len(set(train)) == len(train)
    assert (split.test_classes[split.y_test == 1] >= 1).all() and (split.test_classes[split.y_test == 0] == 0).all()


@pytest.mark.parametrize("kind", ["image", "tabular"])
def test_own_split_is_named_by_its_seed(kind):
    ds = tiny(kind)
    a, b, c = own_split(ds, seed=1), own_split(ds, seed=1), own_split(ds, seed=2)
    assert np.array_equal(a.X_train, b.X_train) and np.array_equal(a.X_test, b.X_test)
    assert np.array_equal(a.y_test, b.y_test)
    assert set(ids(a.X_train)) != set(ids(c.X_train))


def test_own_split_keeps_one_normal_on_each_side():
    split = own_split(tiny("tabular", n_normal=3), seed=0, normal_test_ratio=0.01)
    assert len(split.X_train) == 2 and int((split.y_test == 0).sum()) == 1


# ------------------------------------------------------------------ datasets the loader refuses or repairs


def grey(n: int, side: int = 8, seed: int = 0) -> list[np.ndarray]:
    return list(np.random.default_rng(seed).integers(0, 256, (n, side, side), dtype=np.uint8))


def images_in(folder: Path, arrays) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, a in enumerate(arrays):
        Image.fromarray(a).save(folder / f"{folder.name}{i:03d}.png")


def needed_from(message: str) -> int:
    found = re.search(r"at least (\d+) are needed", message)
    assert found, message
    return int(found.group(1))


def test_too_few_images_says_how_many_are_needed(tmp_path):
    images_in(tmp_path / "few" / "normal", grey(10))
    images_in(tmp_path / "few" / "abnormal", grey(3, seed=1))
    with pytest.raises(UserDataError, match=r"too few normal images in 'normal': found 10; at least \d+") as e:
        load_user_data(UserDataSource.for_path(tmp_path / "few"))
    needed = needed_from(str(e.value))
    # the number told is the rule: that many load (and train on MIN_NORMAL_TRAIN at least), one fewer does not
    images_in(tmp_path / "enough" / "normal", grey(needed))
    ds, _ = load_user_data(UserDataSource.for_path(tmp_path / "enough"))
    assert len(own_split(ds, 0, 0.2).X_train) >= MIN_NORMAL_TRAIN
    images_in(tmp_path / "short" / "normal", grey(needed - 1))
    with pytest.raises(UserDataError, match=f"found {needed - 1}; at least {needed} are needed"):
        load_user_data(UserDataSource.for_path(tmp_path / "short"))


def test_too_few_images_is_one_error_line_from_the_cli(tmp_path):
    images_in(tmp_path / "few" / "normal", grey(10))
    code, out, err = cli(["train", "--folder", str(tmp_path / "few"), "--epochs", "1", "--out", str(tmp_path / "r")])
    assert code == 2 and "too few normal images" in one_line_error(err) and "at least" in err
    assert not list(tmp_path.glob("r.*"))


def test_mixed_sizes_are_resized_with_a_note(tmp_path):
    images_in(tmp_path / "mixed" / "normal", grey(20) + grey(10, side=12))
    images_in(tmp_path / "mixed" / "abnormal", grey(3, side=40))
    ds, notes = load_user_data(UserDataSource.for_path(tmp_path / "mixed"))
    assert ds.X_train.shape == (30, 1, 28, 28) and ds.X_test.shape == (3, 1, 28, 28)
    resize = [n for n in notes if "resized" in n]
    assert len(resize) == 1 and "resized to 28x28" in resize[0]
    assert all(s in resize[0] for s in ("8x8 (20)", "12x12 (10)", "40x40 (3)"))


def test_images_of_the_networks_size_are_kept_as_they_are(tmp_path):
    normals = grey(25, side=28)
    images_in(tmp_path / "kept" / "normal", normals)
    ds, notes = load_user_data(UserDataSource.for_path(tmp_path / "kept"))
    assert not notes and np.array_equal(ds.X_train[:, 0], np.stack(normals))
    rgb = np.random.default_rng(2).integers(0, 256, (25, 20, 20, 3), dtype=np.uint8)
    (tmp_path / "colour" / "normal").mkdir(parents=True)
    for i, a in enumerate(rgb):
        Image.fromarray(a).save(tmp_path / "colour" / "normal" / f"{i}.png")
    ds, notes = load_user_data(UserDataSource.for_path(tmp_path / "colour"))
    assert ds.X_train.shape == (25, 3, 32, 32) and "images resized to 32x32" in notes[0]


def test_unreadable_files_are_listed_and_the_rest_used(tmp_path):
    images_in(tmp_path / "d" / "normal", grey(25))
    (tmp_path / "d" / "normal" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    (tmp_path / "d" / "normal" / "readme.txt").write_text("these are my images")
    ds, notes = load_user_data(UserDataSource.for_path(tmp_path / "d"))
    assert len(ds.X_train) == 25
    unused = [n for n in notes if "not used" in n]
    assert len(unused) == 1 and unused[0].startswith("2 file(s) not used")
    assert "normal/broken.png" in unused[0] and "normal/readme.txt: not an image file (.txt)" in unused[0]
    assert all(not name.endswith(("broken.png", "readme.txt")) for name in ds.source)


def test_no_normal_folder_is_refused_and_normal_dir_names_another(tmp_path):
    images_in(tmp_path / "parts" / "good", grey(25))
    images_in(tmp_path / "parts" / "bad", grey(4, seed=1))
    with pytest.raises(UserDataError, match=r"no folder named 'normal' holds images .*DIR/normal/"):
        load_user_data(UserDataSource.for_path(tmp_path / "parts"))
    ds, _ = load_user_data(UserDataSource.for_path(tmp_path / "parts", normal_dir="good"))
    assert (len(ds.X_train), len(ds.X_test), ds.class_names) == (25, 4, ["good", "bad"])


def test_the_abnormal_folders_named_are_the_only_anomalies(tmp_path):
    images_in(tmp_path / "d" / "normal", grey(25))
    images_in(tmp_path / "d" / "scratch", grey(3, seed=1))
    images_in(tmp_path / "d" / "dent", grey(5, seed=2))
    ds, notes = load_user_data(UserDataSource.for_path(tmp_path / "d"))
    assert ds.class_names == ["normal", "dent", "scratch"] and len(ds.X_test) == 8
    ds, notes = load_user_data(UserDataSource.for_path(tmp_path / "d", abnormal_dirs=["dent"]))
    assert ds.class_names == ["normal", "dent"] and len(ds.X_test) == 5
    assert any("3 file(s) not used" in n and "scratch/" in n for n in notes)


def labelled_csv(path: Path, digits, labels) -> Path:
    return write_csv(path, digits[1][: len(labels)], labels)


def test_a_label_column_with_other_values_is_named(tmp_path, digits):
    labels = [0] * 40 + [1] * 5 + [2, "maybe"]
    path = labelled_csv(tmp_path / "t.csv", digits, labels)
    with pytest.raises(UserDataError, match=r"the label column 'y' holds '2', 'maybe'; labels must be 0 or 'normal', "
                                            r"1 or 'anomaly'"):
        load_user_data(UserDataSource.for_path(path, label_column="y"))


def test_labels_may_be_words_and_blank_lines_do_not_shift_them(tmp_path, digits):
    labels = ["normal"] * 30 + [" Anomaly"] * 3 + ["0"] * 10 + ["1.0"]
    path = labelled_csv(tmp_path / "t.csv", digits, labels)
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:5] + ["", "," * 64] + lines[5:]) + "\n")  # blank records, skipped as rows
    ds, _ = load_user_data(UserDataSource.for_path(path, label_column="y"))
    assert ds.y.tolist() == [0] * 30 + [1] * 3 + [0] * 10 + [1]
    assert np.array_equal(ds.X, digits[1][: len(labels)].astype(np.float32))


def test_a_table_without_normal_rows_is_refused(tmp_path, digits):
    path = labelled_csv(tmp_path / "t.csv", digits, [1] * 30)
    with pytest.raises(UserDataError, match="no normal rows"):
        load_user_data(UserDataSource.for_path(path, label_column="y"))


def test_a_missing_label_column_names_the_columns_there_are(table):
    with pytest.raises(UserDataError, match=r"no column 'label' in the header \(it has 'p0', 'p1',"):
        load_user_data(UserDataSource.for_path(table, label_column="label"))


def test_an_npy_table_takes_a_column_index_as_its_labels(tmp_path, digits):
    A = np.column_stack([digits[1], digits[2] == ANOMALY]).astype(np.float64)
    np.save(tmp_path / "t.npy", A)
    ds, _ = load_user_data(UserDataSource.for_path(tmp_path / "t.npy", label_column="-1"))
    assert ds.X.shape == (N_IMAGES, 64) and ds.y.tolist() == (digits[2] == ANOMALY).astype(int).tolist()


@pytest.mark.parametrize("case, argv, message", [
    ("label values", ["--label-column", "y"], "the label column 'y' holds '2'"),
    ("no normal rows", ["--label-column", "all_one"], "no normal rows"),
    ("no label column", ["--label-column", "label"], "no column 'label' in the header"),
])
def test_a_bad_table_is_one_error_line_from_the_cli(case, argv, message, tmp_path, digits):
    features = digits[1][:40]
    with open(tmp_path / "t.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([f"p{j}" for j in range(64)] + ["y", "all_one"])
        w.writerows(list(row) + [2 if i == 7 else 0, 1] for i, row in enumerate(features))
    code, _, err = cli(["train", "--table", str(tmp_path / "t.csv"), *argv, "--epochs", "1",
                        "--out", str(tmp_path / "r")])
    assert code == 2 and message in one_line_error(err)
    assert not list(tmp_path.glob("r.*"))


def test_no_normal_folder_is_one_error_line_from_the_cli(tmp_path):
    images_in(tmp_path / "parts" / "good", grey(25))
    code, _, err = cli(["train", "--folder", str(tmp_path / "parts"), "--epochs", "1", "--out", str(tmp_path / "r")])
    assert code == 2 and "no folder named 'normal' holds images" in one_line_error(err)


@pytest.mark.parametrize("argv, message", [
    (["--dataset", "digits", "--normal-test-ratio", "0.5"], "--normal-dir and --normal-test-ratio apply to --folder"),
    (["--dataset", "digits", "--normal-dir", "good"], "--normal-dir and --normal-test-ratio apply to --folder"),
    (["--dataset", "digits", "--label-column", "y"], "--label-column applies to --folder or --table"),
    (["--table", "TABLE", "--normal-dir", "good"], "--normal-dir, --abnormal-dir, --image-size and --channels apply"),
    (["--table", "TABLE", "--channels", "1"], "--normal-dir, --abnormal-dir, --image-size and --channels apply"),
    (["--folder", "FOLDER", "--label-column", "y"], "--label-column applies to --table data"),
    (["--folder", "TABLE"], "not a folder or a .zip of folders"),
    (["--table", "FOLDER"], "a table is a .csv or .npy file"),
    (["--folder", "MISSING"], "no such file or folder"),
])
def test_flags_of_another_kind_of_data_are_refused_not_ignored(argv, message, folder, table, tmp_path):
    paths = {"TABLE": str(table), "FOLDER": str(folder), "MISSING": str(tmp_path / "nothing")}
    code, _, err = cli(["train", *[paths.get(a, a) for a in argv], "--epochs", "1", "--out", str(tmp_path / "r")])
    assert code == 2 and message in one_line_error(err)
    assert not list(tmp_path.glob("r.*"))


# ------------------------------------------------------------------ a zip of the folders


@pytest.mark.parametrize("top", ["digits/", ""])
def test_a_zip_of_the_folders_loads_like_the_folder(folder, tmp_path, top):
    archive = tmp_path / "mine.zip"
    files = sorted(folder.rglob("*.png"), reverse=True)  # the archive's order is not the folder's
    with zipfile.ZipFile(archive, "w") as zf:
        for f in files:
            zf.write(f, top + f.relative_to(folder).as_posix())
    source = UserDataSource.for_path(archive)
    assert (source.kind, source.name) == ("folder", "user.mine")
    ds, notes = load_user_data(source)
    ref, ref_notes = load_user_data(UserDataSource.for_path(folder))
    assert np.array_equal(ds.X_train, ref.X_train) and np.array_equal(ds.X_test, ref.X_test)
    assert np.array_equal(ds.y_test, ref.y_test) and ds.class_names == ref.class_names
    assert notes == ref_notes
    assert [top + name for name in ref.source] == list(ds.source)


# ------------------------------------------------------------------ the user-data folders the lab lists


def test_datasets_put_in_the_user_data_folders_become_registry_datasets(tmp_path, monkeypatch, digits):
    data, uploads = tmp_path / "data", tmp_path / "uploads"
    monkeypatch.setenv("MAESI_DATA", str(data))
    monkeypatch.setenv("MAESI_USER_DATA", str(uploads))
    monkeypatch.setattr(registry, "_USER_DATASETS", {})
    images, features, classes = digits
    mine = data / "user"
    write_folder(mine / "parts", images[:60], classes[:60], normal="good", abnormal="bad")
    images_in(mine / "parts" / "unsorted", grey(2))  # not named in abnormal_dirs: not an anomaly folder
    (mine / "parts.maesi.json").write_text(json.dumps({"normal_dir": "good", "abnormal_dirs": "bad"}))
    write_csv(mine / "readings.csv", features, (classes == ANOMALY).astype(int))
    (mine / "readings.csv.maesi.json").write_text(json.dumps({"label_column": "y", "unknown": 1}))
    (mine / "notes.txt").write_text("not a dataset")
    write_csv(mine / ".hidden.csv", features)
    uploads.mkdir()
    write_csv(uploads / "uploaded.csv", features)
    (uploads / "uploaded.csv.maesi.json").write_text("{not json")  # an unreadable options file is ignored

    assert sorted(s.name for s in discover()) == ["user.parts", "user.readings", "user.uploaded"]
    readings = registry.get_spec("user.readings")  # found on first use, without a --table
    assert (readings.kind, readings.protocol, readings.user_source.label_column) == ("tabular", "own", "y")
    ds = registry.load_dataset("user.readings")
    assert int(ds.y.sum()) == int((classes == ANOMALY).sum()) and ds.X.shape == (N_IMAGES, 64)
    parts = registry.get_spec("user.parts")
    assert parts.kind == "image" and parts.user_source.normal_dir == "good"
    assert parts.user_source.abnormal_dirs == ("bad",)
    ds = registry.load_dataset("user.parts")
    n_anomalies = int((classes[:60] == ANOMALY).sum())
    assert (len(ds.X_train), len(ds.X_test)) == (60 - n_anomalies, n_anomalies)
    assert registry.get_spec("user.uploaded").user_source.label_column is None
    assert set(registry.user_datasets()) == {"user.parts", "user.readings", "user.uploaded"}
    assert registry.lab_datasets()[-3:] == ["user.parts", "user.readings", "user.uploaded"]
    with pytest.raises(ValueError, match="unknown dataset 'user.notes'"):
        registry.get_spec("user.notes")


# ------------------------------------------------------------------ the preset from the shape


@pytest.mark.parametrize("shape, preset", [
    ((1,), "thyroid"), ((20,), "thyroid"), ((21,), "kdd99"), ((150,), "kdd99"), ((151,), "arrhythmia"),
    ((1, 28, 28), "mnist"), ((3, 32, 32), "cifar10"),
    ((1, 32, 32), "mnist"), ((3, 28, 28), "mnist"),  # --image-size/--channels: the ResNet needs sides of 8k
])
def test_the_preset_follows_the_shape(shape, preset):
    assert preset_for_shape(shape) == preset
    choices = presets_for_shape(shape)  # what the lab's form offers: the default among them (images: first)
    assert preset in choices and len(set(choices)) == len(choices)
    if len(shape) == 3:
        assert choices[0] == preset


@pytest.mark.parametrize("shape", [(1, 8, 8), (2, 28, 28), (3, 64, 64), (1, 28, 32)])
def test_no_preset_for_shapes_the_loader_never_makes(shape):
    with pytest.raises(UserDataError, match="no preset takes images of shape"):
        preset_for_shape(shape)


@pytest.mark.parametrize("shape", [(1, 28, 28), (1, 32, 32), (3, 28, 28), (3, 32, 32)])
def test_the_presets_offered_take_the_shape_and_the_pixel_range(shape):
    from core.method.config import PRESETS

    offered = presets_for_shape(shape)
    assert offered and all(PRESETS[p].arch.family != "mlp" and tuple(PRESETS[p].input_range) == (0, 255)
                           for p in offered)  # not the digits preset: its pixels are 0..16
    assert all(PRESETS[p].arch.family != "resnet" for p in offered) if shape[1] == 28 else True  # sides of 8k


def test_every_tabular_preset_is_offered_for_a_table():
    from core.method.config import PRESETS

    assert sorted(presets_for_shape((64,))) == sorted(p for p in PRESETS if PRESETS[p].arch.family == "mlp")


def test_a_forced_image_size_prepares_a_run_with_the_mnist_network(folder):
    from core.evaluation.runner import ProtocolRun

    source = UserDataSource.for_path(folder, image_size=32, name="user.digits32")
    registry.register_user_data(source)
    ds, notes = load_user_data(source)
    run = ProtocolRun.prepare(source.name, seed=0, ds=ds)
    assert run.X_train.shape[1:] == (1, 32, 32) and run.preset == "mnist"
    assert run.data_source["image_size"] == 32 and "images resized to 32x32" in notes[0]
