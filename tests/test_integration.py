"""Short real training runs on real data: the critic learns and the scores beat chance."""
import time

import numpy as np
import pytest

from core import MirroredAE
from core.cli import main as cli_main
from core.data import load_dataset
from core.evaluation.metrics import auc, top_k_prf
from core.evaluation.protocols import leave_one_out, tabular_split

pytestmark = pytest.mark.slow


def test_digits_short_run_learns_and_detects():
    split = leave_one_out(load_dataset("digits"), 7)
    model = MirroredAE(preset="digits", interpolation=3, epochs=15, seed=0, device="cpu").fit(split.X_train)
    critic = model.history_["critic"]
    assert np.mean(critic[-3:]) < critic[0], f"critic loss did not decrease: {critic}"
    assert auc(split.y_test, model.decision_function(split.X_test)) > 0.7


def test_the_digits_default_run_of_the_readme_is_healthy(tmp_path, capsys):
    # the acceptance run: `python -m core train --dataset digits --anomaly-class 1 --interpolation 3`
    out = tmp_path / "d1"
    assert cli_main(["train", "--dataset", "digits", "--anomaly-class", "1", "--interpolation", "3", "--threads", "1",
                     "--out", str(out)]) == 0
    assert "health: ok" in capsys.readouterr().out
    assert MirroredAE.load(out).health_["verdict"] == "ok"


def test_thyroid_at_the_papers_table_5_setting_is_flagged(shared_data, tmp_path, capsys):
    out = tmp_path / "t"
    assert cli_main(["train", "--dataset", "thyroid", "--interpolation", "3", "--data-dir", str(shared_data),
                     "--threads", "1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    verdict = MirroredAE.load(out).health_["verdict"]
    assert verdict != "ok" and f"health: {verdict}" in printed


def test_thyroid_short_run_learns_and_detects(shared_data):
    ds = load_dataset("thyroid", data_dir=shared_data)
    split = tabular_split(ds, seed=0)
    # Table 5's SGD step (2e-5) hardly moves the weights in a short run; a larger step shows learning quickly.
    model = MirroredAE(preset="thyroid", interpolation=3, epochs=30, lr=2e-3, seed=0, device="cpu").fit(split.X_train)
    critic = model.history_["critic"]
    assert np.mean(critic[-3:]) < critic[0], f"critic loss did not decrease: {critic}"
    scores = model.decision_function(split.X_test)
    assert auc(split.y_test, scores) > 0.6
    assert top_k_prf(split.y_test, scores, ds.anomaly_fraction)["f1"] > ds.anomaly_fraction  # better than random flags


def test_cli_train_then_score(tmp_path, capsys):
    out = tmp_path / "digits-c7"
    assert cli_main(["train", "--dataset", "digits", "--anomaly-class", "7", "--interpolation", "2", "--epochs", "3",
                     "--out", str(out), "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert "test AUC" in printed and "saved" in printed
    ds = load_dataset("digits")
    np.save(tmp_path / "x.npy", ds.X_test[:4])
    assert cli_main(["score", "--checkpoint", str(out), "--input", str(tmp_path / "x.npy"),
                     "--output", str(tmp_path / "s.csv")]) == 0
    lines = (tmp_path / "s.csv").read_text().splitlines()
    assert lines[0] == "name,score,label" and len(lines) == 5
    model = MirroredAE.load(out)
    assert model.meta_["command"].startswith("python -m core train --dataset digits")
    assert float(lines[1].split(",")[1]) == pytest.approx(float(model.decision_function(ds.X_test[:1])[0]), rel=1e-4)


def test_cli_reports_bad_input_clearly(tmp_path, capsys):
    model_dir = tmp_path / "m"
    MirroredAE(preset="digits", epochs=1, device="cpu").fit(load_dataset("digits").X_train[:64]).save(model_dir)
    np.save(tmp_path / "wrong.npy", np.zeros((3, 1, 28, 28)))
    assert cli_main(["score", "--checkpoint", str(model_dir), "--input", str(tmp_path / "wrong.npy")]) == 2
    assert "expected images of shape (N, 1, 8, 8)" in capsys.readouterr().err
    assert cli_main(["score", "--checkpoint", str(tmp_path / "missing"), "--input", str(tmp_path / "wrong.npy")]) == 2
    assert "sidecar is missing" in capsys.readouterr().err


def test_cli_help_explains_every_flag(capsys):
    assert cli_main(["train", "--help"]) == 0
    text = capsys.readouterr().out
    for flag in ("--dataset", "--anomaly-class", "--interpolation", "--epochs", "--out", "--device", "--lipschitz",
                 "--profile", "--scaling", "--recon-weight"):
        assert flag in text


def test_sigterm_during_cli_training_keeps_the_best_weights_with_status_interrupted(tmp_path):
    import json
    import signal
    import subprocess
    import sys

    out, log = tmp_path / "run", tmp_path / "stderr.txt"
    with open(log, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "core", "train", "--dataset", "digits", "--anomaly-class", "2",
                                 "--epochs", "300", "--threads", "1", "--out", str(out)],
                                stdout=subprocess.PIPE, stderr=err, text=True)
    deadline = time.time() + 120
    while "epoch 3/300" not in log.read_text() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    stdout, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, log.read_text()[-2000:]
    assert "(training interrupted)" in stdout
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["training_status"] == "interrupted" and meta["health"]["verdict"]
    assert len(meta["history"]["loss_feat"]) >= 3
