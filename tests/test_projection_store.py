"""The lab's t-SNE / UMAP maps persist on disk across server restarts (keyed by checkpoint, method and sample,
written atomically), report their progress, and UMAP's warm-up runs once per process in the background."""
import numpy as np
import pytest

from app.shared import analysis, projection_store


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("MAESI_CACHE", str(tmp_path / "cache"))
    ckpt = tmp_path / "model"
    (tmp_path / "model.safetensors").write_bytes(b"weights")
    (tmp_path / "model.json").write_text("{}")
    return str(ckpt)


def latents(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.normal(size=(n - 5, 6)), rng.normal(4, 1, size=(5, 6))])


def test_a_projection_is_computed_once_then_read_from_disk(store, monkeypatch):
    Z = latents()
    first = projection_store.projection(store, Z, "t-SNE", 1000, 0)
    files = list(projection_store.folder().glob("*"))
    assert len(files) == 1 and files[0].suffix == ".npz"  # atomically renamed into place: no temporary left

    def no_recompute(*a, **k):
        raise AssertionError("recomputed although stored")

    monkeypatch.setattr(analysis, "project", no_recompute)  # a restarted server: only the disk is left
    again = projection_store.projection(store, Z, "t-SNE", 1000, 0)
    assert again["method"] == "t-SNE" and np.array_equal(again["xy"], first["xy"])


def test_the_key_follows_checkpoint_method_sample_and_latents(store, tmp_path):
    Z = latents()
    digest = projection_store.checkpoint_digest(store)
    base = projection_store.key(digest, "UMAP", 1000, 0, Z)
    assert base == projection_store.key(digest, "UMAP", 1000, 0, Z.copy())
    others = [projection_store.key(digest, "t-SNE", 1000, 0, Z), projection_store.key(digest, "UMAP", 500, 0, Z),
              projection_store.key(digest, "UMAP", 1000, 1, Z), projection_store.key(digest, "UMAP", 1000, 0, Z + 1)]
    (tmp_path / "model.safetensors").write_bytes(b"retrained")
    others.append(projection_store.key(projection_store.checkpoint_digest(store), "UMAP", 1000, 0, Z))
    assert len({base, *others}) == 6


def test_pca_is_never_stored_and_a_damaged_file_is_recomputed(store):
    Z = latents()
    projection_store.projection(store, Z, "PCA", 1000, 0)
    assert not projection_store.folder().exists()
    k = projection_store.key(projection_store.checkpoint_digest(store), "t-SNE", 1000, 0, Z)
    projection_store.folder().mkdir(parents=True)
    (projection_store.folder() / f"{k}.npz").write_bytes(b"not a zip")
    assert projection_store.projection(store, Z, "t-SNE", 1000, 0)["xy"].shape == (len(Z), 2)


def test_t_sne_reports_its_progress_up_to_the_end():
    heard = []
    analysis.project(latents(), "t-SNE", 0, progress=lambda f, text: heard.append(f))
    assert heard[0] == 0.0 and heard[-1] == pytest.approx(1.0)
    assert heard == sorted(heard)


def test_the_warm_up_starts_once_per_process(monkeypatch):
    import threading

    ran = threading.Event()
    monkeypatch.setattr(projection_store, "_warm_up", ran.set)
    monkeypatch.setattr(projection_store, "_warm_up_started", threading.Event())
    assert projection_store.warm_up_in_background() is True
    assert projection_store.warm_up_in_background() is False
    assert ran.wait(10), "the warm-up thread did not run"
