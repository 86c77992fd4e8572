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
