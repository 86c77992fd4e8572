"""Issue 19, items 3, 5 and 6: replacing a checkpoint survives SIGKILL at any moment (old or new model, never a
broken pair, leftovers cleaned by the next write or listing), the sidecar's schema covers every field a later step
reads, and run names are claimed atomically and never a name Windows reserves."""
import hashlib
import json
import os
import random
import signal
import threading
import time
from pathlib import Path

import pytest

from core import MirroredAE
from core.checkpoints import durable
from core.checkpoints.manifest import REPO_CHECKPOINTS, list_folder, load_manifest
from core.checkpoints.sidecar import HEALTH_VERDICTS, validate_sidecar
from core.checkpoints.store import (CheckpointError, check_run_name, load_bytes_checkpoint, load_checkpoint,
                                    read_meta, rename_checkpoint, save_checkpoint)
from core.data import load_dataset

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the crash tests fork a writer to kill it")


@pytest.fixture(scope="module")
def two_models(tmp_path_factory):
    """(tensors, meta) of two different digits models, tagged A and B in their sidecars."""
    folder = tmp_path_factory.mktemp("models")
    X = load_dataset("digits").X_train[:64]
    models = {}
    for tag, seed in (("A", 0), ("B", 1)):
        MirroredAE(preset="digits", epochs=1, device="cpu", seed=seed, threads=1).fit(X).save(
            folder / tag, extra={"model_tag": tag})
        models[tag] = load_checkpoint(folder / tag)
    assert any((models["A"][0][k] != models["B"][0][k]).any() for k in models["A"][0])
    return models


def _fork(work) -> int:
    pid = os.fork()
    if pid == 0:  # the writer: never returns into pytest
        try:
            work()
        finally:
            os._exit(0)
    return pid


def _hidden(folder: Path) -> list[str]:
    return sorted(n for n in os.listdir(folder) if n.startswith("."))


def _loaded_tag(path, models) -> str:
    """The model the pair at `path` loads as; fails when it loads as neither or as a mix of the two."""
    tensors, meta = load_checkpoint(path)  # checks the weights against the sidecar's sha256
    tag = meta["model_tag"]
    expected = models[tag][0]
    assert set(tensors) == set(expected) and all((tensors[k] == expected[k]).all() for k in expected)
    return tag


def test_sigkill_while_overwriting_leaves_the_old_or_the_new_model_and_no_leftovers(two_models, tmp_path):
    path = tmp_path / "runs" / "run"
    save_checkpoint(path, *two_models["A"])
    rng = random.Random(19)
    mid_write = 0
    started = time.monotonic()

    def overwrite_forever():
        for i in range(10_000):
            save_checkpoint(path, *two_models["AB"[i % 2]])

    for trial in range(25):
        pid = _fork(overwrite_forever)
        time.sleep(rng.uniform(0.002, 0.06))
        os.kill(pid, signal.SIGKILL)
        assert os.waitpid(pid, 0)[1] & 0x7F == signal.SIGKILL
        mid_write += bool(_hidden(path.parent))
        _loaded_tag(path, two_models)  # old or new, never a broken pair
        if trial % 2:  # the next listing cleans...
            entries, skipped = list_folder(path.parent)
            assert [Path(e["path"]).name for e in entries] == ["run.safetensors"] and not skipped
        else:  # ...and so does the next write
            save_checkpoint(path, *two_models["B"])
            assert _loaded_tag(path, two_models) == "B"
        assert _hidden(path.parent) == [] and sorted(os.listdir(path.parent)) == ["run.json", "run.safetensors"]
    assert time.monotonic() - started < 60
    print(f"{mid_write} of 25 kills interrupted a write midway")


# Every call a replacement makes on disk, in order; a writer killed just before call n leaves the state n names.
STEPS = {1: "nothing written yet", 2: "the new generation written, not yet named",
         3: "the new generation written and synced", 4: "the sidecar names the new generation",
         5: "the generation moved to STEM.safetensors, the sidecar still naming it", 6: "all but the last sync"}


@pytest.mark.parametrize("killed_before", sorted(STEPS))
def test_a_writer_killed_at_each_step_leaves_a_pair_that_loads(killed_before, two_models, tmp_path, monkeypatch):
    path = tmp_path / "run"
    save_checkpoint(path, *two_models["A"])
    calls = [0]

    def dies_before(step):
        def wrapper(*args, **kwargs):
            calls[0] += 1
            if calls[0] == killed_before:
                os._exit(0)  # no cleanup, no finally: as a SIGKILL
            return step(*args, **kwargs)
        return wrapper

    def killed_write():
        for name in ("write_synced", "fsync_folder", "atomic_write_bytes"):
            monkeypatch.setattr(durable, name, dies_before(getattr(durable, name)))
        save_checkpoint(path, *two_models["B"])

    os.waitpid(_fork(killed_write), 0)
    assert _loaded_tag(path, two_models) == ("A" if killed_before <= 3 else "B"), STEPS[killed_before]
    list_folder(tmp_path)
    assert _hidden(tmp_path) == []
    assert _loaded_tag(path, two_models) == ("A" if killed_before <= 3 else "B")
    save_checkpoint(path, *two_models["A"])
    assert _hidden(tmp_path) == [] and read_meta(path)["weights_file"] == "run.safetensors"


def test_the_cleaning_leaves_other_writers_files_and_the_shipped_folder_alone(two_models, tmp_path):
    save_checkpoint(tmp_path / "run", *two_models["A"])
    others = [".run.timeline.safetensors.abcd1234.tmp", ".manifest.json.abcd1234.tmp", ".notes"]
    for name in others + [".run.json.abcd1234.tmp", ".run.g0123456789ab.safetensors"]:
        (tmp_path / name).write_bytes(b"x")
    list_folder(tmp_path)
    assert _hidden(tmp_path) == sorted(others)
    shipped = sorted(os.listdir(REPO_CHECKPOINTS))
    list_folder(REPO_CHECKPOINTS)
    assert sorted(os.listdir(REPO_CHECKPOINTS)) == shipped


def test_a_sidecar_naming_another_runs_generation_reads_its_own_weights(two_models, tmp_path):
    save_checkpoint(tmp_path / "run", *two_models["A"])
    meta = json.loads((tmp_path / "run.json").read_text())
    (tmp_path / "run.json").write_text(json.dumps(dict(meta, weights_file=".other.g0123456789ab.safetensors")))
    (tmp_path / ".other.g0123456789ab.safetensors").write_bytes(b"not weights")
    assert _loaded_tag(tmp_path / "run", two_models) == "A"


# ---------------------------------------------------------------- the schema

def _set(path: str, value):
    def mutate(meta):
        *parents, key = path.split(".")
        node = meta
        for p in parents:
            node = node.setdefault(p, {})
        node[key] = value
    return mutate


REFUSED = {
    "params.score": "bogus", "params.score_kind": "bogus", "params.interpolation": 1, "params.profile": "mine",
    "params.lipschitz": "wgan", "params.alpha_sampler": "uniform", "params.scaling": "log", "params.preset": "big",
    "params.epochs": -1, "params.batch_size": 2.5, "params.seed": "zero", "params.lr": -1.0,
    "params.contamination": 0.7, "params.latent_reg": "yes", "params.threads": 0, "params.device": ["cpu"],
    "params.config_overrides": "none", "health.verdict": 3, "health.reasons": "it is fine", "health.epoch": -2,
    "health.recon_ratio": "low", "health.thresholds": {"collapsed_recon_ratio": "high"},
    "training_status": "done", "departures": "none", "metrics.auc": "high", "metrics.recall": [1],
    "split": 5, "weights_dtype": "int8", "threshold": float("nan"),
}
REFUSED["health.verdict (unknown)"] = "great"


@pytest.mark.parametrize("field", sorted(REFUSED))
def test_a_wrongly_typed_or_unknown_sidecar_value_is_refused_naming_it(field, two_models):
    meta = json.loads(json.dumps(two_models["A"][1]))
    key = field.split(" ")[0]
    _set(key, REFUSED[field])(meta)
    named = key if key.startswith(("params.", "health.")) else key.split(".")[0]
    with pytest.raises(ValueError, match=f"key '{named}'"):
        validate_sidecar(meta)


def test_a_refused_sidecar_is_never_stored(two_models, tmp_path):
    weights = (Path(REPO_CHECKPOINTS) / "digits-c0-m0.safetensors").read_bytes()
    meta = json.loads((Path(REPO_CHECKPOINTS) / "digits-c0-m0.json").read_text())
    meta["params"]["score"] = "bogus"
    with pytest.raises(CheckpointError, match="params.score"):
        load_bytes_checkpoint(weights, json.dumps(meta).encode(), tmp_path / "runs")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_both_names_of_the_score_and_every_score_kind_are_accepted(two_models):
    for key in ("score", "score_kind"):
        for kind in ("feature", "l2", "latent_norm"):
            meta = json.loads(json.dumps(two_models["A"][1]))
            meta["params"][key] = kind
            validate_sidecar(meta)


def test_every_shipped_sidecar_validates_and_the_manifest_verifies():
    names = sorted(p.name for p in REPO_CHECKPOINTS.glob("*.json") if p.name != "manifest.json")
    assert names
    for name in names:
        validate_sidecar(json.loads((REPO_CHECKPOINTS / name).read_text()))
    entries = load_manifest(REPO_CHECKPOINTS, verify=True)
    assert len(entries) == len(names)
    entry = entries[0]
    assert hashlib.sha256(Path(entry["path"]).read_bytes()).hexdigest() == entry["sha256"]


def test_the_sidecars_health_verdicts_are_the_trainings():
    from core.training.health import VERDICTS

    assert tuple(HEALTH_VERDICTS) == tuple(VERDICTS)


# ---------------------------------------------------------------- names

@pytest.mark.parametrize("name", ["con", "NUL", "Aux", "prn", "com1", "COM9", "lpt1", "lpt9", "nul.v2",
                                  "con.safetensors", "CON.json"])
def test_device_names_windows_reserves_are_refused_with_the_reason(name, tmp_path):
    with pytest.raises(CheckpointError, match="Windows reserves"):
        check_run_name(tmp_path / name)


@pytest.mark.parametrize("name", ["console", "com10", "auxiliary", "nul_run", "lpt"])
def test_names_that_only_look_like_device_names_are_fine(name, tmp_path):
    assert check_run_name(tmp_path / name).name == f"{name}.safetensors"


def test_a_rename_to_a_reserved_name_is_refused_and_keeps_the_run(two_models, tmp_path):
    save_checkpoint(tmp_path / "run", *two_models["A"])
    with pytest.raises(CheckpointError, match="Windows reserves"):
        rename_checkpoint(tmp_path / "run", "aux")
    assert sorted(os.listdir(tmp_path)) == ["run.json", "run.safetensors"]


def test_two_renames_of_one_run_at_once_leave_exactly_one_copy(two_models, tmp_path):
    for round_ in range(40):
        folder = tmp_path / f"r{round_}"
        save_checkpoint(folder / "run", *two_models["A"])
        barrier, outcomes = threading.Barrier(2), {}

        def rename(to):
            barrier.wait()
            try:
                outcomes[to] = rename_checkpoint(folder / "run", to, root=folder).name
            except CheckpointError as e:
                outcomes[to] = str(e)

        threads = [threading.Thread(target=rename, args=(to,)) for to in ("left", "right")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        files = sorted(os.listdir(folder))
        assert files in (["left.json", "left.safetensors"], ["right.json", "right.safetensors"]), files
        winner = files[0].removesuffix(".json")
        loser = "right" if winner == "left" else "left"
        assert outcomes[winner] == f"{winner}.safetensors"
        assert "was renamed or removed meanwhile" in outcomes[loser]
        assert _loaded_tag(folder / winner, two_models) == "A"


def test_a_rename_onto_an_existing_run_says_so(two_models, tmp_path):
    save_checkpoint(tmp_path / "a", *two_models["A"])
    save_checkpoint(tmp_path / "b", *two_models["B"])
    with pytest.raises(CheckpointError, match="a run named 'b' already exists"):
        rename_checkpoint(tmp_path / "a", "b")
    assert _loaded_tag(tmp_path / "a", two_models) == "A" and _loaded_tag(tmp_path / "b", two_models) == "B"


def test_a_first_write_in_progress_is_not_listed_as_a_broken_run(two_models, tmp_path):
    save_checkpoint(tmp_path / "run", *two_models["A"])
    (tmp_path / "run.safetensors").rename(tmp_path / ".run.g0123456789ab.safetensors")
    meta = json.loads((tmp_path / "run.json").read_text())
    (tmp_path / "run.json").write_text(json.dumps(dict(meta, weights_file=".run.g0123456789ab.safetensors")))
    assert _loaded_tag(tmp_path / "run", two_models) == "A"
    with durable.folder_lock(tmp_path):  # the writer still holds the folder: the listing leaves its files alone
        assert list_folder(tmp_path) == ([], [])
    entries, skipped = list_folder(tmp_path)  # then it finishes what the writer would have
    assert [Path(e["path"]).name for e in entries] == ["run.safetensors"] and not skipped
    assert _hidden(tmp_path) == [] and read_meta(tmp_path / "run")["weights_file"] == "run.safetensors"
