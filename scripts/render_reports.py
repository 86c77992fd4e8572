"""Render every report (results/**/<name>.md) again from the CSV and JSON beside it, with today's wording and
rules, without the cache (results/mnist's cache is not in the repository):

    python -m scripts.render_reports          # rewrite the stale ones
    python -m scripts.render_reports --check  # list them, exit 1 when any is stale

`python -m core reproduce ... --render-only` rebuilds the CSV and JSON too, from a cache that is present.
"""
from __future__ import annotations

import sys
from pathlib import Path

from core.checkpoints.store import atomic_write_bytes
from core.evaluation.published import grid_reports

ROOT = Path(__file__).resolve().parents[1]


def reports(root: Path = ROOT) -> list[Path]:
    """The grid reports: a markdown file with its CSV and JSON (the research reports have their own scripts)."""
    return [r.markdown for r in grid_reports(root / "results")]


def stale(root: Path = ROOT) -> dict[Path, str]:
    """{report: what it renders to today} of the reports that differ from it."""
    today = {r.markdown: r.render() for r in grid_reports(root / "results")}
    return {p: text for p, text in today.items() if text != p.read_text()}


def main(argv: list[str]) -> int:
    found = stale()
    for p, text in found.items():
        print(f"{'stale' if '--check' in argv else 'rendered'}: {p.relative_to(ROOT)}")
        if "--check" not in argv:
            atomic_write_bytes(p, text.encode())
    if not found:
        print(f"all {len(reports())} reports are current")
    return 1 if found and "--check" in argv else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
