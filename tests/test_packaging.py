"""Packaging as the ecosystem expects: `pip install -e .` builds with a declared backend, installs the runtime
dependencies of requirements.txt (one list, read by both) and gives a `maesi` command equal to `python -m core`."""
import subprocess
import sys
import tomllib
from importlib import import_module
from pathlib import Path

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
