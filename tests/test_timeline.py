"""The training timeline: snapshots of test latents while a model trains, stored and read back safely."""
import numpy as np
import pytest

from core import MirroredAE
from core.evaluation.protocols import split_for
from core.training.timeline import TimelineCallback, TimelineError, load_timeline, save_timeline, timeline_path


def test_snapshots_are_taken_every_k_epochs_and_round_trip(tmp_path):
    split = split_for("digits", 3)
    model = MirroredAE(preset="digits", epochs=5, device="cpu")
    cb = TimelineCallback(model, split.X_test[:40], every=2)
    model.fit(split.X_train[:200], callbacks=[cb])
    assert cb.epochs == [0, 2, 4]
    path = save_timeline(tmp_path / "run", cb.epochs, cb.latents, np.arange(40))
    assert path == timeline_path(tmp_path / "run.safetensors")
    epochs, Z, idx = load_timeline(tmp_path / "run")
    assert list(epochs) == [0, 2, 4] and Z.shape == (3, 40, 16) and list(idx) == list(range(40))
    # the last snapshot is the trained encoder's view of those samples... of the last epoch, before selection
    assert not np.allclose(Z[0], Z[-1])


def test_a_damaged_or_missing_timeline_gives_a_clear_error(tmp_path):
    with pytest.raises(TimelineError, match="has no timeline"):
        load_timeline(tmp_path / "none")
    timeline_path(tmp_path / "bad").write_bytes(b"\x00" * 64)
    with pytest.raises(TimelineError, match="not a readable timeline"):
        load_timeline(tmp_path / "bad")
