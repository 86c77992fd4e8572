"""The README's results section is generated from the committed reports; a stale copy would show numbers that no
report holds any more."""
from scripts import update_readme


def test_readme_results_match_the_committed_reports():
    readme = (update_readme.ROOT / "README.md").read_text()
    assert update_readme.render() in readme, "README.md is stale: run `python -m scripts.update_readme`"


def test_ci_runs_the_readme_test_command():
    readme = (update_readme.ROOT / "README.md").read_text()
    ci_lines = (update_readme.ROOT / ".ci" / "run").read_text().splitlines()
    test_command = next(line for line in ci_lines if "pytest" in line and not line.lstrip().startswith("#"))
    assert f"```bash\n{test_command.strip()}\n```" in readme


def test_every_report_is_what_its_csv_and_json_render_today():
    """A report is generated, never edited: rendered again from the CSV and JSON beside it with today's code, it
    comes out the same (a stale report keeps old wording, e.g. a variant row without "not the paper's method")."""
    from scripts import render_reports

    assert len(render_reports.reports()) >= 6, render_reports.reports()
    stale = [str(p.relative_to(render_reports.ROOT)) for p in render_reports.stale()]
    assert not stale, f"stale reports: run `python -m scripts.render_reports`: {stale}"
