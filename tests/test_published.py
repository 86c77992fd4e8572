"""core.evaluation.published: the committed reports read back, their answers recomputed from the CSV and JSON."""
import shutil
from pathlib import Path

from core.evaluation.published import RESULTS, grid_reports, research_reports, sections, title


def test_every_committed_report_answers_as_its_markdown_says():
    reports = [r for r in grid_reports() if not r.is_validation_log]
    assert {"mnist.md", "tabular.md", "cifar10.md", "fashion_mnist.md"} <= {r.name for r in reports}
    for r in reports:
        said = sections(r.markdown.read_text())["Does the paper reproduce?"]
        lines = r.claim_lines()
        assert lines and all(line in said for line in lines), r.name
        for a in r.answers():
            assert f"**{a.label}**" in said and f"**{a.answer}**" in said and f"`{a.row}`" in said, (r.name, a)
            assert a.answer in ("yes", "partly", "no")


def test_a_validation_search_answers_no_claim():
    logs = [r for r in grid_reports() if r.name.startswith("validation/")]
    assert logs and all(r.is_validation_log for r in logs)
    assert all(r.answers() == [] and r.claim_lines() == [] and r.comparison_lines() == [] for r in logs)


def test_only_reports_with_their_csv_and_json_outside_research_and_caches_are_grid_reports(tmp_path):
    for folder in ("", "gpu/", "research/", "cache/mnist/"):
        for suffix in (".md", ".csv", ".json"):
            path = tmp_path / f"{folder}mnist{suffix}"
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(RESULTS / f"mnist{suffix}", path)
    (tmp_path / "lonely.md").write_text("# no CSV, no JSON\n")
    assert [r.name for r in grid_reports(tmp_path)] == ["gpu/mnist.md", "mnist.md"]
    assert [r.name for r in research_reports(tmp_path)] == ["research/mnist.md"]
    assert grid_reports(tmp_path / "absent") == [] and research_reports(tmp_path / "absent") == []


def test_sections_split_at_second_level_headings_only():
    text = "# Title\n\nintro\n\n## Answer\n\n- yes\n### detail\nmore\n## Commands\n\n- `run`\n"
    assert title(text) == "Title"
    assert sections(text) == {"": "# Title\n\nintro", "Answer": "- yes\n### detail\nmore", "Commands": "- `run`"}


def test_each_research_report_has_an_answer_a_plot_and_the_command_that_regenerates_it():
    found = research_reports()
    assert {r.name for r in found} >= {"research/mnist_budget.md", "research/authors_evaluation.md",
                                      "research/bn_statistics.md"}
    for r in found:
        assert r.answer and r.plot is not None and r.plot.suffix == ".png", r.name
        assert r.command and r.command.startswith("python -m scripts."), r.name
        assert Path(r.command.split()[2].replace(".", "/") + ".py").name in {
            p.name for p in (RESULTS.parent / "scripts").glob("*.py")}, r.command
