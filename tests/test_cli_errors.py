"""Every CLI error is one line on stderr with exit code 2, never a traceback, and nothing is trained or written
(issue 11: bad flags, bad files, bad checkpoints, through `python -m core`)."""
import json
from pathlib import Path

import numpy as np
import pytest

from core import MirroredAE
from core.cli import main as cli_main
from core.data import load_dataset


@pytest.fixture(scope="module")
def digits_model(tmp_path_factory):
    out = tmp_path_factory.mktemp("m") / "digits"
    MirroredAE(preset="digits", epochs=1, device="cpu").fit(load_dataset("digits").X_train[:64]).save(out)
    return out


TRAIN = ["train", "--dataset", "digits", "--epochs", "1"]
BAD_TRAIN_FLAGS = {
    "device banana": ["--device", "banana"],
    "cuda without a GPU": ["--device", "cuda"],
    "threads -1": ["--threads", "-1"],
    "threads 0": ["--threads", "0"],
    "lam -1": ["--lam", "-1"],
    "lam nan": ["--lam", "nan"],
    "lr 1e6": ["--lr", "1e6"],
    "lr 0 is no learning rate": ["--lr", "0"],
    "interpolation 1000": ["--interpolation", "1000"],
    "interpolation 1": ["--interpolation", "1"],
    "epochs 0": ["--epochs", "0"],
    "critic steps 0": ["--critic-steps", "0"],
    "tfd 0 (the former name)": ["--tfd", "0"],
    "batch size text": ["--batch-size", "many"],
    "tabular preset on images": ["--preset", "thyroid"],
    "another image range": ["--preset", "cifar10"],
    "scaling on images": ["--scaling", "zscore"],
    "recon weight inf": ["--recon-weight", "inf"],
    "class 12": ["--anomaly-class", "12"],
    "class text": ["--anomaly-class", "seven"],
    "out is a folder": ["--out", "/tmp/"],
    "out with a space": ["--out", "/tmp/my run"],
}


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err
    assert lines and lines[-1].startswith(("error:", "python -m core")), err
    return lines[-1]


@pytest.mark.parametrize("case", sorted(BAD_TRAIN_FLAGS))
def test_a_bad_train_flag_is_one_line_and_exit_2(case, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing may be written under runs/
    assert cli_main(TRAIN + BAD_TRAIN_FLAGS[case]) == 2
    one_line_error(capsys)
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("flag", ["--critic-steps", "--tfd"])
def test_critic_steps_has_its_former_name_tfd_as_an_alias(flag):
    from core.cli.train import build_parser

    assert build_parser().parse_args(["--dataset", "digits", flag, "3"]).critic_steps == 3


def test_a_diverging_run_saves_nothing_and_says_so(capsys, tmp_path, monkeypatch):
    from core.method import losses

    monkeypatch.setattr(losses, "latent_regulariser", lambda z: z.sum() * float("nan"))
    out = tmp_path / "never"
    assert cli_main(TRAIN + ["--out", str(out)]) == 1
    assert "nothing was saved" in capsys.readouterr().err
    assert not out.with_suffix(".json").exists() and not out.with_suffix(".safetensors").exists()


@pytest.mark.parametrize("content,name,expected", [
    (b"", "empty.csv", "no sample could be read"),
    (b"a,b\nx,y\n", "strings.csv", "no sample could be read"),
    (b"\x89PNG\r\n\x1a\nnot really", "fake.png", "no sample could be read"),
])
def test_a_bad_input_file_is_one_line_and_exit_2(content, name, expected, digits_model, tmp_path, capsys):
    path = tmp_path / name
    path.write_bytes(content)
    assert cli_main(["score", "--checkpoint", str(digits_model), "--input", str(path)]) == 2
    assert expected in one_line_error(capsys)


def test_score_inputs_of_the_wrong_kind_or_shape(digits_model, tmp_path, capsys):
    np.save(tmp_path / "complex.npy", np.zeros((2, 1, 8, 8), np.complex64))
    np.save(tmp_path / "empty.npy", np.zeros((0, 1, 8, 8)))
    for f in ("complex.npy", "empty.npy"):
        assert cli_main(["score", "--checkpoint", str(digits_model), "--input", str(tmp_path / f)]) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and f in err
    assert cli_main(["score", "--checkpoint", str(digits_model), "--input", str(tmp_path / "none.npy")]) == 2
    assert "no such file" in one_line_error(capsys)
    assert cli_main(["score", "--checkpoint", str(digits_model), "--input", str(tmp_path / "empty.npy"),
                     "--output", str(tmp_path)]) == 2
    assert "not a folder" in one_line_error(capsys)


def test_a_huge_or_foreign_checkpoint_is_refused_in_one_line(digits_model, tmp_path, capsys):
    meta = json.loads(digits_model.with_suffix(".json").read_text())
    meta["input_shape"] = [1, 400000, 400000]
    bad = tmp_path / "huge"
    bad.with_suffix(".json").write_text(json.dumps(meta))
    bad.with_suffix(".safetensors").write_bytes(digits_model.with_suffix(".safetensors").read_bytes())
    np.save(tmp_path / "x.npy", np.zeros((1, 1, 8, 8)))
    assert cli_main(["score", "--checkpoint", str(bad), "--input", str(tmp_path / "x.npy")]) == 2
    line = one_line_error(capsys)
    assert "huge" in line and str(tmp_path) not in line  # the file's name, not the server's path


def test_a_csv_without_a_header_keeps_its_first_row_and_names_are_quoted(tmp_path, capsys, shared_data):
    model = MirroredAE(preset="thyroid", epochs=1, device="cpu")
    X = load_dataset("thyroid", data_dir=shared_data).X[:50]
    model.fit(X).save(tmp_path / "t")
    (tmp_path / "rows.csv").write_text("\n".join(",".join(f"{v:g}" for v in row) for row in X[:2]) + "\n")
    assert cli_main(["score", "--checkpoint", str(tmp_path / "t"), "--input", str(tmp_path / "rows.csv"),
                     "--output", str(tmp_path / "s.csv")]) == 0
    assert "wrote 2 scores" in capsys.readouterr().out
    import csv

    rows = list(csv.reader(open(tmp_path / "s.csv")))
    assert rows[0] == ["name", "score", "label"] and len(rows) == 3


def test_scoring_a_csv_matches_its_header_to_the_models_feature_names(tmp_path, capsys):
    import pandas as pd

    from core.checkpoints.store import CheckpointError

    rng = np.random.default_rng(0)
    names = ["TSH", "T3", "TT4", "T4U", "FTI", "age"]
    frame = pd.DataFrame(rng.normal(size=(60, 6)), columns=names)
    model = MirroredAE(preset="thyroid", epochs=1, device="cpu").fit(frame)
    model.save(tmp_path / "t")
    loaded = MirroredAE.load(tmp_path / "t")
    assert list(loaded.feature_names_in_) == names
    expected = loaded.decision_function(frame.to_numpy()[:5])

    shuffled = names[::-1]  # the same columns in another order: read by name, so the same scores
    frame[shuffled].head(5).to_csv(tmp_path / "rows.csv", index=False)
    assert cli_main(["score", "--checkpoint", str(tmp_path / "t"), "--input", str(tmp_path / "rows.csv")]) == 0
    out = capsys.readouterr()
    scores = [float(line.split(",")[1]) for line in out.out.splitlines()[1:]]
    np.testing.assert_allclose(scores, expected, rtol=1e-5)
    assert "warning" not in out.err

    frame.rename(columns={"FTI": "fti"}).head(5).to_csv(tmp_path / "renamed.csv", index=False)
    cli_main(["score", "--checkpoint", str(tmp_path / "t"), "--input", str(tmp_path / "renamed.csv")])
    assert "lacks 1 of the model's feature names (e.g. 'FTI'): columns are taken in the file's order" in \
        capsys.readouterr().err

    sidecar = json.loads((tmp_path / "t.json").read_text())
    sidecar["feature_names"] = names[:3]
    (tmp_path / "t.json").write_text(json.dumps(sidecar))
    with pytest.raises(CheckpointError, match="3 feature names for input shape"):
        MirroredAE.load(tmp_path / "t")


# ---------------------------------------------------------------- --out: never replace what is not a run's, check before training

@pytest.fixture
def no_training(monkeypatch):
    """Training would be a failure of these tests: every --out problem must be found before it."""
    from core.evaluation.runner import ProtocolRun

    def trained(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(ProtocolRun, "fit_and_evaluate", trained)


def _files(folder) -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_out_refuses_an_existing_run_without_overwrite(digits_model, capsys, no_training):
    before = _files(digits_model.parent)
    assert cli_main(TRAIN + ["--out", str(digits_model)]) == 2
    assert "a run of that name exists already; pass --overwrite" in one_line_error(capsys)
    assert _files(digits_model.parent) == before


def test_out_overwrite_replaces_an_existing_run(digits_model, tmp_path, capsys):
    run = tmp_path / "run"
    for suffix in (".json", ".safetensors"):
        run.with_suffix(suffix).write_bytes(digits_model.with_suffix(suffix).read_bytes())
    assert cli_main(TRAIN + ["--max-train", "64", "--threads", "1", "--out", str(run), "--overwrite"]) == 0
    assert "--overwrite" in json.loads(run.with_suffix(".json").read_text())["command"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json", "run.safetensors"]


@pytest.mark.parametrize("out", ["settings.json", "settings", "settings.safetensors"])
@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
def test_out_never_replaces_a_file_that_is_not_a_checkpoints(out, overwrite, tmp_path, capsys, no_training):
    (tmp_path / "settings.json").write_text('{"theme": "dark"}')
    assert cli_main(TRAIN + ["--out", str(tmp_path / out)] + overwrite) == 2
    assert "settings.json, which is not a maesi checkpoint's file" in one_line_error(capsys)
    assert _files(tmp_path) == {"settings.json": b'{"theme": "dark"}'}


def test_out_refuses_a_folder_where_a_checkpoint_file_would_go(tmp_path, capsys, no_training):
    (tmp_path / "run.json").mkdir()
    assert cli_main(TRAIN + ["--out", str(tmp_path / "run"), "--overwrite"]) == 2
    assert "run.json, which is not a maesi checkpoint's file" in one_line_error(capsys)


def test_out_in_a_read_only_folder_is_refused_before_training(tmp_path, capsys, no_training, monkeypatch):
    import tempfile

    read_only = tmp_path / "ro"
    read_only.mkdir()
    read_only.chmod(0o555)
    try:
        (read_only / "probe").touch()
        (read_only / "probe").unlink()
        real_mkstemp = tempfile.mkstemp

        def refused(*args, dir=None, **kwargs):  # root writes anywhere: refuse as the kernel would for a user
            if dir is not None and Path(dir) == read_only:
                raise PermissionError(13, "Permission denied")
            return real_mkstemp(*args, dir=dir, **kwargs)

        monkeypatch.setattr(tempfile, "mkstemp", refused)
    except PermissionError:
        pass
    try:
        assert cli_main(TRAIN + ["--out", str(read_only / "sub" / "run")]) == 2
        line = one_line_error(capsys)
    finally:
        read_only.chmod(0o755)
    assert "cannot write the checkpoint --out run there (Permission denied); nothing was trained" in line
    assert list(read_only.iterdir()) == []


def test_out_on_a_full_disk_is_refused_before_training(tmp_path, capsys, no_training, monkeypatch):
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10 << 30, (10 << 30) - 4096, 4096))
    assert cli_main(TRAIN + ["--out", str(tmp_path / "run")]) == 2
    line = one_line_error(capsys)
    assert "has 4,096 bytes free; the checkpoint needs about" in line and "nothing was trained" in line
    assert list(tmp_path.iterdir()) == []
