"""Shared pytest fixtures."""
from pathlib import Path

import pytest

# The project's real datasets live beside the repository (see shared/data/README.md).
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of the real data sets (read-only); skips the test when they are not available."""
    if not (SHARED_DATA / "README.md").is_file():
        pytest.skip(f"real datasets not available: {SHARED_DATA} does not exist (see shared/data/README.md)")
    return SHARED_DATA


@pytest.fixture(scope="module")
def isolated_cache(tmp_path_factory):
    """All cache writes of a module go to a temporary folder (never ~/.cache or the repo), without a data dir."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MAESI_CACHE", str(tmp_path_factory.mktemp("maesi-cache")))
        mp.delenv("MAESI_DATA", raising=False)
        yield
