"""`python -m app [streamlit run options]`: the lab's server, with the heavy libraries imported before it serves.

`streamlit run app/main.py` imports torch, scikit-learn, pandas and plotly inside the first visitor's page run,
which on a 2-core machine was most of that page's 10 s. This launcher imports them in the server process first
(the page scripts then find them loaded), prints how long that took, and hands over to `streamlit run` in the
same process: the server answers a few seconds later, and its first page comes that much sooner. Run it from the
repository root, where `.streamlit/config.toml` lies. `streamlit run app/main.py` still works the same.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# What every page imports (the layers under the app); the app's own modules stay for the page run to import, so
# that nothing Streamlit-specific runs before the server exists.
PRELOAD = ("torch", "numpy", "pandas", "sklearn.neighbors", "sklearn.decomposition", "scipy.stats",
           "plotly.graph_objects", "PIL.Image", "safetensors.torch", "core.estimator", "core.checkpoints.store",
           "core.checkpoints.manifest", "core.evaluation.protocols", "core.data")


def preload() -> float:
    """Import PRELOAD; the seconds it took."""
    import importlib

    t0 = time.perf_counter()
    for name in PRELOAD:
        importlib.import_module(name)
    return time.perf_counter() - t0


def main(argv: list[str]) -> None:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    took = preload()
    print(f"maesi: libraries loaded in {took:.1f} s; starting the lab server", flush=True)
    from streamlit.web import cli

    sys.argv = ["streamlit", "run", str(ROOT / "app" / "main.py"), *argv]
    sys.exit(cli.main())


if __name__ == "__main__":
    main(sys.argv[1:])
