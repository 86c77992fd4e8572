"""Packaging as the ecosystem expects: `pip install -e .` builds with a declared backend, installs the runtime
dependencies of requirements.txt (one list, read by both) and gives a `maesi` command equal to `python -m core`."""
import subprocess
import sys
import tomllib
from importlib import import_module
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_pyproject_declares_a_build_backend_and_reads_the_requirements():
    assert PYPROJECT["build-system"]["build-backend"] == "setuptools.build_meta"
    dynamic = PYPROJECT["tool"]["setuptools"]["dynamic"]
    assert dynamic["dependencies"] == {"file": ["requirements.txt"]}
    # torch stays pinned to the CPU wheel that lies on disk (a looser pin pulls a multi-GB CUDA build)
    assert "torch==2.13.0" in (ROOT / "requirements.txt").read_text().split()
    module, _, attr = dynamic["version"]["attr"].rpartition(".")
    assert getattr(import_module(module), attr) == import_module("core").__version__


def test_the_maesi_command_is_the_cli():
    module, _, func = PYPROJECT["project"]["scripts"]["maesi"].partition(":")
    from core.cli import main

    assert getattr(import_module(module), func) is main


def test_python_m_core_and_the_entry_point_print_the_same_help():
    via_module = subprocess.run([sys.executable, "-m", "core", "--help"], capture_output=True, text=True, cwd=ROOT)
    via_entry = subprocess.run([sys.executable, "-c", "import sys; from core.cli import main; sys.exit(main())",
                                "--help"], capture_output=True, text=True, cwd=ROOT)
    assert via_module.returncode == via_entry.returncode == 0
    assert via_module.stdout == via_entry.stdout and "train" in via_module.stdout


def test_ci_runs_the_maesi_command_only_after_the_requirements_it_imports():
    # `pip install --no-deps -e .` brings no numpy or torch: `maesi --help` before the requirements fails CI at once
    lines = (ROOT / ".ci" / "run").read_text().splitlines()
    first = {what: next(i for i, line in enumerate(lines) if what in line and not line.lstrip().startswith(("#", "echo")))
             for what in ("-r requirements-dev.txt", "maesi --help")}
    assert first["-r requirements-dev.txt"] < first["maesi --help"]


def test_the_launcher_imports_the_libraries_then_hands_its_options_to_streamlit_run(monkeypatch):
    """`python -m app` (the README's launch command): every PRELOAD module is importable (a renamed module fails
    here, not in a user's terminal), and the options reach `streamlit run app/main.py` unchanged."""
    import sys

    import app.__main__ as launcher
    from streamlit.web import cli

    seen = {}

    def fake_main():
        seen["argv"] = list(sys.argv)
        return 0

    monkeypatch.setattr(cli, "main", fake_main)
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    with pytest.raises(SystemExit) as done:
        launcher.main(["--server.port", "8502", "--server.headless", "true"])
    assert done.value.code == 0
    assert seen["argv"][:2] == ["streamlit", "run"] and seen["argv"][2].endswith("app/main.py")
    assert seen["argv"][3:] == ["--server.port", "8502", "--server.headless", "true"]
    assert all(name in sys.modules for name in launcher.PRELOAD)


def test_the_image_holds_what_the_lab_reads_and_no_cache():
    """The Dockerfile copies every folder the lab reads at run time (the Paper claims page reads results/), and
    .dockerignore keeps the grids' caches (thousands of cell files) out of the image."""
    copied = {line.split()[1] for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("COPY ")}
    assert {"core", "app", "checkpoints", "results"} <= copied
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert "results/cache" in ignored and "results/**/cache" in ignored
