"""Evaluation: protocols, metrics, baselines, the paper's figures and the `reproduce` runner (fast: tiny grids)."""
import csv
import json
import re

import numpy as np
import pytest

from core.data import load_dataset
from core.data.dataset import Dataset
from core.cli.reproduce import main as reproduce
from core.evaluation import paper_results, protocols
from core.evaluation.baselines import make_method
from core.evaluation.methods import ABLATIONS, parse_method
from core.evaluation.metrics import auc, evaluate, mean_std, top_k_prf
from core.evaluation.tidy_csv import COLUMNS


# ------------------------------------------------------------------ synthetic datasets

def toy_tabular(n=400, anomalies=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)).astype(np.float32)
    X[:, 0] = np.arange(n)  # a row id, to check disjointness
    y = np.zeros(n, np.int64)
    y[rng.choice(n, anomalies, replace=False)] = 1
    return Dataset(name="toy", kind="tabular", description="toy", X=X, y=y, feature_names=["id", "a", "b"])


def toy_images(n_classes=100, per_class=72, shape=(3, 4, 4)):
    """COIL-shaped: every image's first pixel is its class, the second its view index."""
    X = np.zeros((n_classes * per_class,) + shape, np.uint8)
    y = np.repeat(np.arange(n_classes), per_class).astype(np.int64)
    X[:, 0, 0, 0] = y
    X[:, 0, 0, 1] = np.tile(np.arange(per_class), n_classes)
    return Dataset(name="toycoil", kind="image", description="toy", X_train=X, y_train=y,
                   X_test=np.zeros((0,) + shape, np.uint8), y_test=np.zeros(0, np.int64),
                   class_names=[str(i) for i in range(n_classes)], input_range=(0, 255))


# ------------------------------------------------------------------ protocols

def test_leave_one_out_excludes_the_anomaly_class_from_training():
    ds = load_dataset("digits")
    split = protocols.leave_one_out(ds, 3)
    train_labels = ds.y_train[ds.y_train != 3]
    assert len(split.X_train) == len(train_labels) and len(split.X_train) < len(ds.X_train)
    # no training image is an image of class 3
    class3 = {x.tobytes() for x in ds.X_train[ds.y_train == 3]}
    assert not any(x.tobytes() in class3 for x in split.X_train)
    np.testing.assert_array_equal(split.y_test, (ds.y_test == 3).astype(int))


def test_tabular_split_is_clean_disjoint_and_seeded():
    ds = toy_tabular()
    a, b, c = protocols.tabular_split(ds, 0), protocols.tabular_split(ds, 0), protocols.tabular_split(ds, 1)
    train_ids, test_ids = a.X_train[:, 0].astype(int), a.X_test[:, 0].astype(int)
    assert ds.y[train_ids].sum() == 0, "anomalies in the training set"
    assert not set(train_ids) & set(test_ids), "train and test overlap"
    assert len(test_ids) == len(ds.X) - len(ds.X) // 2
    assert len(train_ids) == len(ds.X) // 2 - ds.y[np.setdiff1d(np.arange(len(ds.X)), test_ids)].sum()
    np.testing.assert_array_equal(a.y_test, ds.y[test_ids])
    np.testing.assert_array_equal(a.X_train, b.X_train)
    np.testing.assert_array_equal(a.X_test, b.X_test)
    assert not np.array_equal(a.X_test, c.X_test)


def test_one_class_test_set_is_half_negatives():
    ds = load_dataset("digits")  # 10 classes like Fashion-MNIST
    split = protocols.one_class_fmnist(ds, 4, seed=0)
    n_class = int(np.sum(np.concatenate([ds.y_train, ds.y_test]) == 4))
    assert len(split.X_train) == round(0.8 * n_class)
    assert split.y_test.sum() == len(split.y_test) - split.y_test.sum()  # half negatives
    assert (split.test_classes[split.y_test == 0] == 4).all() and (split.test_classes[split.y_test == 1] != 4).all()
    pooled_X = np.concatenate([ds.X_train, ds.X_test])
    normal = {x.tobytes() for x in pooled_X[np.concatenate([ds.y_train, ds.y_test]) == 4]}
    assert all(x.tobytes() in normal for x in split.X_train)
    assert not {x.tobytes() for x in split.X_train} & {x.tobytes() for x in split.X_test[split.y_test == 0]}
    again = protocols.one_class_fmnist(ds, 4, seed=0)
    np.testing.assert_array_equal(split.X_test, again.X_test)
    assert not np.array_equal(split.X_test, protocols.one_class_fmnist(ds, 4, seed=1).X_test)


@pytest.mark.parametrize("config", sorted(protocols.COIL_CONFIGS))
def test_coil_configurations(config):
    ds = toy_images()
    n_in, fraction = protocols.COIL_CONFIGS[config]
    split = protocols.coil_config(ds, config, seed=3)
    train_classes = np.unique(split.X_train[:, 0, 0, 0])
    assert len(train_classes) == n_in
    assert len(split.X_train) == round(0.8 * 72 * n_in)
    inlier_test = split.y_test == 0
    assert set(split.test_classes[inlier_test]) <= set(train_classes)
    out_classes = split.test_classes[~inlier_test]
    assert not set(out_classes) & set(train_classes)
    assert len(set(out_classes)) == len(out_classes), "at most one outlier per category"
    assert abs(split.y_test.mean() - fraction) < 0.02
    # train and test inliers are different views
    key = lambda X: {(int(x[0, 0, 0]), int(x[0, 0, 1])) for x in X}
    assert not key(split.X_train) & key(split.X_test)
    np.testing.assert_array_equal(split.X_test, protocols.coil_config(ds, config, seed=3).X_test)
    assert not np.array_equal(split.X_test, protocols.coil_config(ds, config, seed=4).X_test)


# ------------------------------------------------------------------ metrics

def test_top_k_prf_on_a_hand_computed_example():
    y = [1, 0, 1, 0, 0]
    s = [0.9, 0.8, 0.1, 0.3, 0.2]
    assert top_k_prf(y, s, 0.4) == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5})
    # k = 3 flags samples 0, 1, 3: one hit of two anomalies; F1 = 2 (1/3)(1/2) / (1/3 + 1/2) = 0.4
    assert top_k_prf(y, s, 0.6) == pytest.approx({"precision": 1 / 3, "recall": 0.5, "f1": 0.4})


def test_auc_of_perfect_and_inverted_scores_and_evaluate():
    y = np.array([0, 0, 0, 1, 1])
    s = np.array([0.1, 0.2, 0.3, 0.8, 0.9])
    assert auc(y, s) == 1.0 and auc(y, -s) == 0.0
    m = evaluate(y, s)  # k = the number of anomalies
    assert m == pytest.approx({"auc": 1.0, "ap": 1.0, "precision": 1.0, "recall": 1.0, "f1": 1.0})
    assert evaluate(y, -s)["f1"] == 0.0
    assert mean_std([1.0, 3.0]) == pytest.approx((2.0, np.sqrt(2.0), 2))
    assert mean_std([0.5])[1:] == (0.0, 1)


# ------------------------------------------------------------------ baselines

def test_method_names():
    assert parse_method("maesi-3pt-noreg@lr=2e-3@epochs=300") == ("maesi-3pt-noreg", {"lr": 2e-3, "epochs": 300})
    assert len(ABLATIONS) == 8
    for bad in ("maesi-4pt", "iforest@lr=1", "maesi-3pt@bogus=1"):
        with pytest.raises(ValueError):
            parse_method(bad)


def test_baselines_beat_chance_on_thyroid(shared_data):
    ds = load_dataset("thyroid", data_dir=shared_data)
    split = protocols.tabular_split(ds, 0)
    for name in ("iforest", "ocsvm", "pca", "ae-l2"):
        est = make_method(name, preset="thyroid", seed=0, epochs=20, device="cpu").fit(split.X_train)
        a = auc(split.y_test, est.decision_function(split.X_test))
        assert a > 0.7, f"{name}: AUC {a:.3f}"


# ------------------------------------------------------------------ the paper's figures

def test_paper_figures_are_transcribed(shared_data):
    """Every published figure equals the number printed in the paper's text (citations stripped)."""

    text = [re.sub(r" \[\d+\]", "", line) for line in (shared_data.parent / "paper.txt").read_text().splitlines()]

    def numbers(prefix, n_fields=None):
        lines = [ln for ln in text
                 if ln.startswith(prefix + "\t") and (n_fields is None or len(ln.split("\t")) == n_fields)]
        assert lines, prefix
        return [float(x) for x in lines[0].split("\t")[1:] if x]

    order = ["bird", "car", "cat", "deer", "dog", "frog", "horse", "plane", "ship", "truck", "avg"]
    for name, d in paper_results.TABLE1_CIFAR10_AUC.items():
        assert numbers(name) == [d[k] for k in order], name
    for k in list(range(10)) + ["avg"]:
        printed = numbers("Avg" if k == "avg" else str(k), n_fields=6)
        assert printed == [paper_results.TABLE3_MNIST_AUC[m][k] for m in paper_results.TABLE3_MNIST_AUC], k
    for name, d in paper_results.TABLE4_COIL100.items():
        assert numbers(name) == [d[c][m] for c in ("config1", "config2", "config3") for m in ("auc", "f1")], name
    assert numbers("FMNIST") == list(paper_results.TABLE5_FMNIST_MEAN_AUC.values())
    start = next(i for i, ln in enumerate(text) if ln.startswith("KDD99\tIF"))
    current = None
    for ln in text[start:start + 20]:
        parts = ln.split("\t")
        current = {"KDD99": "kdd99", "Arrhythmia": "arrhythmia", "Thyroid": "thyroid"}.get(parts[0], current)
        name, *vals = [p for p in parts[1:] if p]
        d = paper_results.TABLE2_TABULAR_PRF[current][name]
        assert [d["precision"], d["recall"], d["f1"]][:len(vals)] == [float(v) for v in vals], (current, name)
    # Thyroid's own row prints precision and recall only: the F1 is recorded as missing, not invented
    assert paper_results.TABLE2_TABULAR_PRF["thyroid"]["3- Simplex (Ours)"]["f1"] is None
    rows = paper_results.paper_rows("tabular")
    assert all(r["method"].startswith("paper:") and r["seed"] == "" for r in rows)


# ------------------------------------------------------------------ reproduce

def _read_csv(path):
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        return reader.fieldnames, list(reader)


def _cells(line):
    return [c.strip() for c in line.strip("|").split("|")]


def _table(md, heading=None):
    """The report's first table (or the one under `## heading`): row name -> {column header: cell}."""
    if heading is not None:
        md = md.split(f"\n## {heading}\n", 1)[1]
    lines = md[md.index("\n| method |") + 1:].split("\n\n", 1)[0].splitlines()
    header = _cells(lines[0])
    return {cells[0]: dict(zip(header, cells)) for cells in map(_cells, lines[2:])}


def _answer_in(md, line_start):
    """The bold verdict (yes / partly / no) the report gives on the line that starts with `line_start`."""
    line = next(x for x in md.splitlines() if x.startswith(line_start))
    return re.search(r"\*\*(yes|partly|no)\*\*", line).group(1)


def test_reproduce_tiny_grid_writes_tidy_csv_and_resumes(tmp_path, capsys):
    argv = ["--experiment", "digits", "--budget", "smoke", "--classes", "0", "--seeds", "1",
            "--methods", "maesi-3pt", "pca", "--out", str(tmp_path), "--device", "cpu"]
    assert reproduce(argv) == 0
    header, rows = _read_csv(tmp_path / "digits.csv")
    assert header == COLUMNS
    # a maesi cell also reports the same model scored by L2 reconstruction error (its L2 twin)
    assert {r["method"] for r in rows} == {"maesi-3pt", "maesi-3pt@score=l2", "pca"}
    assert {r["metric"] for r in rows} == {"auc", "ap", "precision", "recall", "f1", "health"}
    assert len(rows) == 3 * 5 + 2  # and the training-health verdict of the maesi cell and its twin
    assert {r["method"] for r in rows if r["metric"] == "health"} == {"maesi-3pt", "maesi-3pt@score=l2"}
    md = (tmp_path / "digits.md").read_text()
    assert "python -m core reproduce --experiment digits --budget smoke" in md
    assert "torch" in md
    auc_of = {r["method"]: float(r["value"]) for r in rows if r["metric"] == "auc"}
    cells = _table(md, "ROC AUC")["maesi-3pt"]
    assert cells["seeds"] == "1" and float(cells["0"]) == pytest.approx(auc_of["maesi-3pt"], abs=5e-5)  # its AUC
    cache = list((tmp_path / "cache").rglob("seed*.json"))
    assert len(cache) == 2
    capsys.readouterr()
    # resuming: nothing to run; a new method runs only its own cell
    note = ["--note", "one grid split across two processes"]
    assert reproduce(argv + note) == 0
    assert "0 cells run, 0 failed, 2 cached" in capsys.readouterr().out
    assert reproduce(argv[:-5] + ["--methods", "maesi-3pt", "pca", "iforest", "--out", str(tmp_path),
                                  "--device", "cpu"] + note) == 0
    assert "1 cells run, 0 failed, 2 cached" in capsys.readouterr().out
    assert (tmp_path / "digits.md").read_text().count("- one grid split across two processes") == 1
    invocations = (tmp_path / "cache" / "digits" / "smoke" / "invocations.jsonl").read_text().splitlines()
    assert [json.loads(i)["cells_run"] for i in invocations] == [2, 0, 1]
    _, rows = _read_csv(tmp_path / "digits.csv")
    assert {r["method"] for r in rows} == {"maesi-3pt", "maesi-3pt@score=l2", "pca", "iforest"}
    # a cached cell made under another budget definition (stale) is run again, not reused
    from core.evaluation.cells import KEY_FIELD

    path = next(p for p in cache if "maesi-3pt" in str(p))
    rec = json.loads(path.read_text())
    rec[KEY_FIELD]["epochs"] = 999
    path.write_text(json.dumps(rec))
    capsys.readouterr()
    assert reproduce(argv) == 0
    assert "1 cells run, 0 failed, 1 cached" in capsys.readouterr().out


def test_reproduce_tabular_table_has_the_paper_rows(tmp_path, shared_data):
    argv = ["--experiment", "tabular", "--datasets", "thyroid", "--budget", "smoke", "--methods", "maesi-3pt",
            "iforest", "--out", str(tmp_path), "--device", "cpu", "--data-dir", str(shared_data)]
    assert reproduce(argv) == 0
    header, rows = _read_csv(tmp_path / "tabular.csv")
    assert header == COLUMNS
    paper = [r for r in rows if r["method"].startswith("paper:")]
    assert paper and all(r["seed"] == "" for r in paper)
    ours = [r for r in paper if r["dataset"] == "thyroid" and r["method"] == "paper:maesi-3pt"]
    assert {r["metric"]: r["value"] for r in ours} == {"precision": "0.6875", "recall": "0.7021", "f1": ""}
    md = (tmp_path / "tabular.md").read_text()
    assert _table(md, "Precision")["*paper: 3- Simplex (Ours)*"]["thyroid"] == "0.6875"
    assert _table(md, "F1")["*paper: 3- Simplex (Ours)*"]["thyroid"] == "missing in the paper"
    dagmm = paper_results.TABLE2_TABULAR_PRF["thyroid"]["DAGMM"]["precision"]
    assert float(_table(md, "Precision")["*paper: DAGMM*"]["thyroid"]) == pytest.approx(dagmm)
    assert "--experiment tabular --datasets thyroid --budget smoke" in md


def test_reproduce_never_overwrites_a_report_of_another_budget(tmp_path):
    (tmp_path / "digits.json").write_text(json.dumps({"budget": "paper"}))
    (tmp_path / "digits.md").write_text("the committed paper-budget report")
    argv = ["--experiment", "digits", "--budget", "smoke", "--classes", "0", "--seeds", "1",
            "--methods", "pca", "--out", str(tmp_path), "--device", "cpu"]
    assert reproduce(argv) == 0
    assert (tmp_path / "digits.md").read_text() == "the committed paper-budget report"
    assert _table((tmp_path / "digits-smoke.md").read_text())["pca"]["seeds"] == "1"


# ------------------------------------------------------------------ the reports' answers

def _measured(rows, experiment):
    from core.evaluation.experiments import EXPERIMENTS
    from core.evaluation.report_tables import Measured

    return Measured.build(rows, EXPERIMENTS[experiment].datasets)


def test_a_class_mean_claim_averages_the_classes_per_seed_and_answers_by_the_rule():
    from core.evaluation.claims import paper_answers, partial_mean
    from core.evaluation.report import render_markdown

    def row(method, klass, seed, value):
        return {"dataset": "fashion_mnist", "anomaly_class": klass, "method": method, "seed": seed,
                "metric": "auc", "value": value}

    # class 0: ours wins; class 1: ours loses; the class means per seed are 0.75 and 0.65 (ours), 0.7 (iforest)
    rows = [row("maesi-3pt", "0", 0, 0.9), row("maesi-3pt", "1", 0, 0.6),
            row("maesi-3pt", "0", 1, 0.8), row("maesi-3pt", "1", 1, 0.5),
            row("iforest", "0", 0, 0.7), row("iforest", "1", 0, 0.7),
            row("iforest", "0", 1, 0.7), row("iforest", "1", 1, 0.7),
            row("paper:maesi-3pt", "mean", "", 0.994)]
    m = _measured(rows, "fashion_mnist")
    sd = np.std([0.9, 0.8], ddof=1)
    assert m.stat("maesi-3pt", ("fashion_mnist", "0"), "auc") == pytest.approx((0.85, sd, 2))
    assert m.stat("maesi-3pt", ("fashion_mnist", "1"), "auc") == pytest.approx((0.55, sd, 2))
    assert m.stat("maesi-3pt", ("fashion_mnist", "mean"), "auc") == pytest.approx((0.70, sd, 2))
    (answer,) = paper_answers(m, "fashion_mnist")
    # the paper's Table 5 mean is not reached; the strongest peer is matched: "partly"
    assert (answer.row, answer.col, answer.paper) == ("maesi-3pt", ("fashion_mnist", "mean"), 0.994)
    assert answer.ours == pytest.approx((0.70, sd, 2)) and answer.peer == ("iforest", pytest.approx(0.7))
    assert answer.answer == "partly"
    md = render_markdown(rows, {"experiment": "fashion_mnist", "budget": "test"})
    assert _table(md)["maesi-3pt"] == {"method": "maesi-3pt", "seeds": "2", "health": "not recorded",
                                       "0": "0.8500 ± 0.0707", "1": "0.5500 ± 0.0707", "mean": "0.7000 ± 0.0707"}
    assert _answer_in(md, "- **Table 5, mean over classes, fashion_mnist**") == "partly"

    rows[0]["value"] = 0.6  # class 0 of seed 0: the class mean of ours drops below the peer's
    (answer,) = paper_answers(_measured(rows, "fashion_mnist"), "fashion_mnist")
    assert answer.ours[0] == pytest.approx((0.6 + 0.65) / 2) and answer.answer == "no"
    assert _answer_in(render_markdown(rows, {"experiment": "fashion_mnist", "budget": "test"}),
                      "- **Table 5, mean over classes, fashion_mnist**") == "no"

    # a row run on some classes only has no class mean; the claim compares it on the classes it ran
    rows.append(row("maesi-3pt@profile=authors", "1", 0, 0.8))
    m = _measured(rows, "fashion_mnist")
    assert m.stat("maesi-3pt@profile=authors", ("fashion_mnist", "mean"), "auc")[2] == 0
    found = partial_mean(m, "maesi-3pt@profile=authors", "maesi-3pt", ("fashion_mnist", "mean"), "auc")
    assert found == (("1",), pytest.approx(0.8), pytest.approx(0.55))
    assert partial_mean(m, "maesi-3pt@profile=authors", "maesi-3pt", ("fashion_mnist", "1"), "auc") is None


def test_a_mean_claim_over_some_classes_compares_the_same_classes():
    from core.evaluation.claims import paper_answers
    from core.evaluation.report import render_markdown

    def row(method, klass, value, seed=0):
        return {"dataset": "cifar10", "anomaly_class": klass, "method": method, "seed": seed, "metric": "auc",
                "value": value}

    rows = [row("maesi-3pt", "0", 0.5), row("maesi-3pt", "1", 0.7), row("pca", "0", 0.6), row("pca", "1", 0.7)]
    rows += [row("paper:maesi-3pt", str(k), 0.9 if k < 2 else 0.1, "") for k in range(10)]
    (answer,) = paper_answers(_measured(rows, "cifar10"), "cifar10")
    # the paper's mean over classes 0 and 1 (0.9), not over all ten (0.26); our 0.6 is below the peer's 0.65
    assert answer.classes == ("0", "1") and answer.paper == pytest.approx(0.9)
    assert answer.ours == pytest.approx((0.6, 0.0, 1)) and answer.peer == ("pca", pytest.approx(0.65))
    assert answer.answer == "no"
    md = render_markdown(rows, {"experiment": "cifar10", "budget": "test"})
    assert _answer_in(md, "- **Table 1, mean over the classes run, cifar10**") == "no"


def test_a_tie_at_chance_is_answered_no_and_says_why():
    from core.evaluation.report import render_markdown

    def row(method, klass, value):
        return {"dataset": "cifar10", "anomaly_class": klass, "method": method, "seed": 0, "metric": "auc",
                "value": value}

    # per class far from 0.5 both ways, a class mean at chance, level with the strongest peer (CIFAR-10 at 5 epochs)
    published = [{**row("paper:maesi-3pt", k, v), "seed": ""} for k, v in (("0", 0.85), ("1", 0.98), ("mean", 0.915))]
    rows = [row("maesi-3pt", "0", 0.41), row("maesi-3pt", "1", 0.63), row("pyod-deepsvdd", "0", 0.50),
            row("pyod-deepsvdd", "1", 0.54), *published]
    md = render_markdown(rows, {"experiment": "cifar10", "budget": "test"})
    line = next(x for x in md.splitlines() if x.startswith("- **Table 1"))
    assert _answer_in(md, "- **Table 1") == "no" and "at chance (AUC below 0.55)" in line, line
    rows[1]["value"] = 0.73  # our mean 0.57: above chance and above the peer
    md = render_markdown(rows, {"experiment": "cifar10", "budget": "test"})
    assert _answer_in(md, "- **Table 1") == "partly" and "at chance (AUC below" not in md


def test_claim_answers_follow_the_stated_rule():
    from core.evaluation.claims import verdict

    assert verdict((0.95, 0.02, 5), 0.96, ("pyod-iforest", 0.99)) == "yes"  # within one sd of the paper
    assert verdict((0.955, 0.001, 5), 0.96, None) == "yes"  # within the 0.005 floor
    assert verdict((0.90, 0.001, 5), 0.96, ("pyod-iforest", 0.89)) == "partly"  # below the paper, above the peer
    assert verdict((0.90, 0.001, 5), 0.96, ("pyod-iforest", 0.91)) == "no"
    assert verdict((0.90, 0.001, 5), 0.96, None) == "no"  # no peer ran: nothing to be at or above
    # at chance: a tie with a peer that is at chance too is no partial reproduction (CIFAR-10 on a CPU budget)
    assert verdict((0.5177, 0.0, 1), 0.96, ("pyod-deepsvdd", 0.5176)) == "no"
    assert verdict((0.5177, 0.0, 1), 0.96, ("pyod-deepsvdd", 0.5176), metric="f1") == "partly"  # no chance level
    assert verdict((0.56, 0.0, 1), 0.96, ("pyod-deepsvdd", 0.52)) == "partly"


def test_thyroids_claim_is_answered_by_the_precision_and_recall_the_paper_prints():
    from core.evaluation.claims import paper_answers

    def answer(precision, recall, peer_f1):
        def row(method, metric, value, seed):
            return {"dataset": "thyroid", "anomaly_class": "", "method": method, "seed": seed, "metric": metric,
                    "value": value}

        rows = [row("maesi-3pt", x, v, s) for s in (0, 1) for x, v in (("precision", precision), ("recall", recall),
                                                                       ("f1", 0.65))]
        rows += [row("pyod-iforest", "f1", peer_f1, s) for s in (0, 1)]
        rows += [row("paper:maesi-3pt", x, v, "") for x, v in (("precision", 0.6875), ("recall", 0.7021),
                                                               ("f1", ""))]
        (found,) = paper_answers(_measured(rows, "tabular"), "tabular")
        assert found.paper is None and found.ours == pytest.approx((0.65, 0.0, 2))
        return found

    # recall 0.699 is below the paper's 0.7021 but within the 0.005 floor: both printed figures are reached
    both = answer(0.70, 0.699, 0.70)
    assert [(x, s[0], p, hit) for x, s, p, hit in both.printed] == [
        ("precision", pytest.approx(0.70), 0.6875, True), ("recall", pytest.approx(0.699), 0.7021, True)]
    assert both.answer == "yes"
    assert answer(0.70, 0.60, 0.70).answer == "partly"  # one of the two is reached
    assert answer(0.60, 0.60, 0.64).answer == "partly"  # neither, but F1 0.65 is above the peer's 0.64
    assert answer(0.60, 0.60, 0.70).answer == "no"


def test_the_interpolation_claim_compares_with_no_interpolation_at_the_same_settings():
    from core.evaluation.claims import interpolation_answers
    from core.evaluation.report import render_markdown

    def row(method, seed, value, dataset="thyroid"):
        return {"dataset": dataset, "anomaly_class": "", "method": method, "seed": seed, "metric": "f1",
                "value": value}

    rows = [row("maesi-3pt@chosen", s, v) for s, v in ((0, 0.6), (1, 0.62))]
    rows += [row("maesi-2pt@chosen", s, v) for s, v in ((0, 0.4), (1, 0.42))]
    rows += [row("maesi-none@chosen", s, v) for s, v in ((0, 0.5), (1, 0.52))]
    (answer,) = interpolation_answers(_measured(rows, "tabular"), "f1", "")
    assert answer.suffix == "chosen" and answer.metric == "f1"
    assert answer.means == {"thyroid": {"maesi-3pt": pytest.approx(0.61), "maesi-2pt": pytest.approx(0.41),
                                        "maesi-none": pytest.approx(0.51)}}
    assert (answer.wins, answer.total, answer.answer, answer.one_seed) == (1, 2, "partly", False)
    md = render_markdown(rows, {"experiment": "tabular", "budget": "test"})
    assert _answer_in(md, "- **Fig. 5, interpolation improves the result**") == "partly"


def test_the_interpolation_claim_on_a_class_mean_uses_the_classes_all_three_rows_ran():
    from core.evaluation.claims import interpolation_answers

    def row(method, klass, value):
        return {"dataset": "cifar10", "anomaly_class": klass, "method": method, "seed": 0, "metric": "auc",
                "value": value}

    rows = [row("maesi-3pt", k, v) for k, v in (("0", 0.6), ("1", 0.7), ("2", 0.9))]  # class 2: 3-point only
    rows += [row("maesi-2pt", k, v) for k, v in (("0", 0.5), ("1", 0.5))]
    rows += [row("maesi-none", k, v) for k, v in (("0", 0.55), ("1", 0.55))]
    rows += [row("paper:maesi-3pt", str(k), 0.9) for k in range(10)]
    (answer,) = interpolation_answers(_measured(rows, "cifar10"), "auc", "mean")
    assert answer.suffix == "" and answer.classes == {"cifar10": ("0", "1")}
    assert answer.means == {"cifar10": {"maesi-3pt": pytest.approx(0.65), "maesi-2pt": pytest.approx(0.5),
                                        "maesi-none": pytest.approx(0.55)}}
    assert (answer.wins, answer.total, answer.answer, answer.one_seed) == (1, 2, "partly", True)


def test_choose_prefers_healthy_variants_and_only_reads_validation_seeds():
    from core.evaluation.validation import choose

    def rec(method, seed, f1, verdict="ok", f1_l2=None):
        r = {"dataset": "thyroid", "method": method, "seed": seed, "metrics": {"f1": f1},
             "health": {"verdict": verdict}}
        if f1_l2 is not None:
            r["metrics_l2"] = {"f1": f1_l2}
        return r

    records = [rec("maesi-3pt", s, 0.9, "collapsed") for s in (100, 101, 102)]  # best F1 but collapsed
    records += [rec("maesi-3pt@scaling=zscore", s, 0.4, "ok", f1_l2=0.45) for s in (100, 101, 102)]
    records += [rec("maesi-3pt@lrx=10", s, 0.5, "ok", f1_l2=0.6) for s in (100, 101, 102)]
    records += [rec("maesi-3pt@lrx=100", s, 0.99, "ok") for s in (0, 1, 2)]  # reported seeds: never read
    chosen = choose(records, "f1")["thyroid"]
    # @chosen: the paper's method only (feature score, no recon, the preset's learning rate), the healthy one
    assert chosen["method"] == "maesi-3pt@scaling=zscore"
    assert chosen["settings"] == "profile=paper@scaling=zscore@lrx=1@recon=0@score=feature"
    assert chosen["health"] == "3 ok" and chosen["seeds"] == 3 and chosen["mean"] == pytest.approx(0.4)
    assert chosen["candidates"] == 5 and chosen["note"] == ""  # 3 settings, 2 of them with an L2 twin
    # the best variant, apart: the healthy one scored by its L2 twin
    variant = chosen["best_variant"]
    assert variant["method"] == "maesi-3pt@lrx=10@score=l2" and variant["mean"] == pytest.approx(0.6)
    assert variant["settings"] == "profile=paper@scaling=minmax@lrx=10@recon=0@score=l2"
    only_variants = [r for r in records if "lrx" in r["method"]]
    assert "thyroid" not in choose(only_variants, "f1")  # no paper's method searched: nothing may answer
    with pytest.raises(ValueError, match="validation seeds"):
        reproduce(["--experiment", "tabular", "--budget", "smoke", "--seed-list", "0", "--choose", "--dry-run"])


def test_a_dataset_without_a_chosen_row_is_answered_by_its_reduced_budget_chosen_row():
    from core.evaluation.claims import paper_answers
    from core.evaluation.report import render_markdown

    def row(method, seed, value, dataset):
        return {"dataset": dataset, "anomaly_class": "", "method": method, "seed": seed, "metric": "f1",
                "value": value}

    rows = [row("maesi-3pt@chosen", s, 0.7, "thyroid") for s in (0, 1)]
    rows += [row("maesi-3pt@chosen@max_train=20000@epochs=30", s, 0.5, "kdd99") for s in (0, 1)]
    rows += [row("maesi-3pt", s, 0.4, "kdd99") for s in (0, 1)]
    rows += [row("pyod-iforest", s, 0.45, "kdd99") for s in (0, 1)]
    rows += [{"dataset": "kdd99", "anomaly_class": "", "method": "paper:maesi-3pt", "seed": "", "metric": "f1",
              "value": 0.96}]
    (answer,) = paper_answers(_measured(rows, "tabular"), "tabular")  # Thyroid has no paper figure here
    # KDD99 is answered by its chosen settings at the reduced budget, above the peer: "partly"
    assert answer.col == ("kdd99", "") and answer.row == "maesi-3pt@chosen@max_train=20000@epochs=30"
    assert answer.ours == pytest.approx((0.5, 0.0, 2)) and answer.peer == ("pyod-iforest", pytest.approx(0.45))
    assert answer.answer == "partly"
    md = render_markdown(rows, {"experiment": "tabular", "budget": "test"})
    line = next(x for x in md.splitlines() if x.startswith("- **Table 2, kdd99**"))
    assert _answer_in(md, "- **Table 2, kdd99**") == "partly"
    # the paper-setting row is shown beside the answering one, with its own value
    assert float(re.search(r"also `maesi-3pt` ([\d.]+)", line).group(1)) == pytest.approx(0.4)


def test_a_claims_budget_is_the_budget_its_row_ran_at():
    from core.evaluation.claims import row_budget

    meta = {"budget": "paper", "budgets": {"kdd99": {"preset": "kdd99", "epochs": 50, "max_train": None}}}
    assert row_budget(meta, "kdd99", "maesi-3pt") == ({"preset": "kdd99", "epochs": 50, "max_train": None}, {})
    assert row_budget(meta, "kdd99", "maesi-3pt@chosen@max_train=20000@epochs=30") == (
        {"preset": "kdd99", "epochs": 30, "max_train": 20000}, {"max_train": 20000, "epochs": 30})
    assert row_budget(meta, "thyroid", "maesi-3pt") == ({}, {})  # the report has no budget for it


def test_report_commands_name_no_machine_path():
    from core.evaluation.report import portable

    assert portable("python -m core reproduce --data-dir /work/shared/data --threads 1") == (
        "python -m core reproduce --data-dir $MAESI_DATA --threads 1")
    assert portable("x --data-dir='/a b/c' --seeds 5") == "x --data-dir $MAESI_DATA --seeds 5"
    assert portable("x --seeds 5") == "x --seeds 5"


def test_an_interrupted_invocation_says_so_in_the_commands():
    from core.evaluation.report import render_markdown

    rows = [{"dataset": "digits", "anomaly_class": "0", "method": "pca", "seed": 0, "metric": "auc", "value": 0.8}]
    inv = {"command": "python -m core reproduce --experiment digits", "wall_s": 60, "cells_run": 0,
           "cells_cached": 0, "started": "2026-11-29 19:45:36"}
    for interrupted in (False, True):
        md = render_markdown(rows, {"experiment": "digits", "budget": "test",
                                    "invocations": [dict(inv, interrupted=interrupted)]})
        line = next(x for x in md.splitlines() if x.startswith(f"  - `{inv['command']}`"))
        assert ("interrupted" in line) == interrupted


@pytest.mark.parametrize("best, chosen_mean, peer, reason", [
    (0.49, 0.49, 0.53, "no setting beats it"),
    (0.60, 0.49, 0.53, "not chosen"),
    (0.60, 0.60, 0.53, "did not carry over"),
    (0.60, 0.60, None, "not run"),
])
def test_a_chosen_row_that_misses_a_peer_says_why_from_the_validation_log(best, chosen_mean, peer, reason):
    from core.evaluation.claims import miss_reason, peer_standings
    from core.evaluation.report import render_markdown

    rows = [{"dataset": "arrhythmia", "anomaly_class": "", "method": method, "seed": s, "metric": "f1",
             "value": v} for method, v in (("maesi-3pt@chosen", 0.47), ("pyod-iforest", 0.54)) for s in (0, 1)]
    rows.append({"dataset": "arrhythmia", "anomaly_class": "", "method": "paper:maesi-3pt", "seed": "",
                 "metric": "f1", "value": 0.5455})
    log = {"peers": {"pyod-iforest": [peer, 0.04, 5]} if peer else {}, "best": ["maesi-3pt@lrx=10", best, 0.05, 5],
           "searched": 32}
    chosen = {"arrhythmia": {"settings": "lrx=10", "metric": "f1", "mean": chosen_mean, "std": 0.05, "seeds": 5,
                             "health": "5 ok", "command": "x", "validation_log": log}}
    # 0.47 is more than one sd (0) below the forest's 0.54: missed
    standings = peer_standings(_measured(rows, "tabular"), "maesi-3pt@chosen", ("arrhythmia", ""), "f1")
    assert standings == [("pyod-iforest", pytest.approx((0.54, 0.0, 2)), "BELOW", True)]
    assert miss_reason("pyod-iforest", chosen["arrhythmia"]) == reason
    md = render_markdown(rows, {"experiment": "tabular", "budget": "test", "chosen": chosen})
    line = next(x for x in md.splitlines() if x.startswith("- arrhythmia: `maesi-3pt@chosen`"))
    assert float(re.search(r"BELOW `pyod-iforest` ([\d.]+)", line).group(1)) == pytest.approx(0.54)
    assert ". Why: " in line  # the reason is given


def test_a_peer_standing_follows_the_stated_rule():
    from core.evaluation.claims import peer_standings

    def row(method, seed, value):
        return {"dataset": "thyroid", "anomaly_class": "", "method": method, "seed": seed, "metric": "f1",
                "value": value}

    rows = [row("maesi-3pt", s, 0.60) for s in (0, 1)]
    rows += [row("pyod-iforest", s, v) for s, v in ((0, 0.55), (1, 0.75))]  # mean 0.65, sd 0.14: within one sd
    rows += [row("iforest", s, v) for s, v in ((0, 0.66), (1, 0.74))]  # mean 0.70, sd 0.057: 0.10 below is BELOW
    rows += [row("pyod-vae", s, 0.60) for s in (0, 1)]  # a tie is not "above"
    rows += [row("pca", s, 0.50) for s in (0, 1)]
    standings = {p: (where, missed) for p, _, where, missed in
                 peer_standings(_measured(rows, "tabular"), "maesi-3pt", ("thyroid", ""), "f1")}
    assert standings == {"pyod-vae": ("NOT above", True), "pyod-iforest": ("within one sd of", False),
                         "iforest": ("BELOW", True), "pca": ("above", False)}


def test_the_validation_log_reads_the_peers_and_the_best_variant_on_validation_seeds_only(tmp_path):
    from core.evaluation.validation import validation_log

    lines = ["dataset,anomaly_class,method,seed,metric,value"]
    lines += [f"thyroid,,{m},{s},f1,{v}" for m, v in (("maesi-3pt", 0.2), ("maesi-3pt@lrx=10@score=l2", 0.6),
                                                       ("pyod-iforest", 0.7)) for s in (100, 101)]
    lines += ["thyroid,,maesi-3pt@lrx=100,0,f1,0.99", "thyroid,,maesi-3pt,100,health,ok", "kdd99,,pca,100,f1,0.9"]
    (tmp_path / "tabular.csv").write_text("\n".join(lines) + "\n")
    log = validation_log("thyroid", "f1", tmp_path)
    assert log["best"][:2] == ["maesi-3pt@lrx=10@score=l2", 0.6] and log["searched"] == 2  # seed 0 never read
    assert log["peers"] == {"pyod-iforest": [0.7, 0.0, 2]}
    assert validation_log("thyroid", "f1", tmp_path / "absent") == {}


def test_a_maesi_row_that_diverges_before_its_first_epoch_fails_its_cell_instead_of_scoring_initial_weights(
        monkeypatch):
    from core.evaluation.runner import ProtocolRun
    from core.method import losses
    from core.training.trainer import TrainingDiverged

    run = ProtocolRun.prepare("digits", 1, seed=0, max_train=200)
    est = make_method("maesi-3pt", preset="digits", input_range=(0.0, 16.0), seed=0, epochs=2, device="cpu")
    monkeypatch.setattr(losses, "latent_regulariser", lambda z: z.sum() * float("nan"))
    with pytest.raises(TrainingDiverged):
        run.fit_and_evaluate(est)


def test_a_maesi_row_that_diverges_after_an_epoch_is_scored_with_its_last_good_weights(monkeypatch):
    from core.evaluation.runner import ProtocolRun
    from core.method import losses

    real, calls = losses.latent_regulariser, {"n": 0, "nan_after": None}

    def counted(z):
        calls["n"] += 1
        late = calls["nan_after"] is not None and calls["n"] > calls["nan_after"]
        return real(z) * (float("nan") if late else 1.0)

    monkeypatch.setattr(losses, "latent_regulariser", counted)
    run = ProtocolRun.prepare("digits", 1, seed=0, max_train=200)

    def row(epochs):
        return make_method("maesi-3pt", preset="digits", input_range=(0.0, 16.0), seed=0, epochs=epochs, device="cpu")

    row(1).fit(run.X_train)  # how many calls one epoch makes
    calls["nan_after"], calls["n"] = calls["n"], 0
    out = run.fit_and_evaluate(row(3))
    assert out["status"] == "diverged" and 0.0 <= out["metrics"]["auc"] <= 1.0


def test_a_claim_is_answered_by_the_papers_method_and_the_best_variant_has_its_own_line():
    """A chosen row that is not the paper's method (an old chosen.json, or a hand-made one) never answers: the
    paper-setting row does; the @variant row is shown beside the answer and labelled in the tables."""
    from unittest import mock

    from core.evaluation import chosen as chosen_module
    from core.evaluation.claims import paper_answers
    from core.evaluation.methods import is_papers_method
    from core.evaluation.report import render_markdown

    def row(method, seed, value):
        return {"dataset": "kdd99", "anomaly_class": "", "method": method, "seed": seed, "metric": "f1",
                "value": value}

    rows = [row("maesi-3pt", s, 0.80) for s in (0, 1)] + [row("maesi-3pt@variant", s, 0.95) for s in (0, 1)]
    rows += [row("maesi-3pt@recon=1", s, 0.97) for s in (0, 1)] + [row("pyod-iforest", s, 0.9) for s in (0, 1)]
    rows += [{"dataset": "kdd99", "anomaly_class": "", "method": "paper:maesi-3pt", "seed": "", "metric": "f1",
              "value": 0.96}]
    (answer,) = paper_answers(_measured(rows, "tabular"), "tabular")
    assert answer.row == "maesi-3pt" and answer.answer == "no"  # never the better-scoring variants
    meta = {"experiment": "tabular", "budget": "test",
            "chosen": {"kdd99": {"settings": "profile=paper@scaling=minmax@lrx=1@recon=0@score=feature",
                                 "metric": "f1", "mean": 0.9, "std": 0.01, "seeds": 5, "health": "5 ok",
                                 "command": "python -m core reproduce ... --choose",
                                 "best_variant": {"settings": "profile=authors@recon=1@score=l2", "mean": 0.94,
                                                  "std": 0.01, "health": "5 ok"}}}}
    md = render_markdown(rows, meta)
    line = next(x for x in md.splitlines() if x.startswith("- **Table 2, kdd99**"))
    assert "Our `maesi-3pt` 0.8000" in line
    assert ("Best variant (not the paper's method; chosen on the development partition): `maesi-3pt@variant` = "
            "`maesi-3pt@profile=authors@recon=1@score=l2` F1 0.9500") in line
    assert "| maesi-3pt@recon=1 (not the paper's method) |" in md and "| maesi-3pt |" in md
    assert [is_papers_method(m) for m in ("maesi-3pt@profile=authors@scaling=zscore", "maesi-3pt@score=l2",
                                          "maesi-3pt@recon=0.5", "maesi-3pt@lrx=10", "maesi-3pt@lr=0.01",
                                          "maesi-3pt@chosen", "maesi-3pt@variant", "pca")] == \
        [True, False, False, False, False, True, False, False]
    with mock.patch.object(chosen_module, "load_chosen", return_value={"datasets": {"kdd99": {
            "settings": "profile=paper@lrx=10@recon=0@score=feature"}}}):
        assert not is_papers_method("maesi-3pt@chosen", "kdd99")  # a chosen.json that broke the rule is caught
