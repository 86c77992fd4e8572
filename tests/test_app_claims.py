"""The lab's Paper claims page (app/claims) with Streamlit's AppTest: every answer of the committed reports, as core
recomputes it, the research questions with their plots, a stale report flagged, no reports at all. Browser check:
tests/test_browser.py (every page)."""
import shutil

import pytest

from app.claims.text import budget_text, demoted, markdown_text
from app_testing import no_errors, run_app
from core.evaluation import published


def test_the_page_lists_every_answer_of_the_committed_reports():
    at = run_app("claims")
    no_errors(at)
    expected = [(r.name, a.answer, a.row) for r in published.grid_reports() if not r.is_validation_log
                for a in r.answers()]
    table = at.dataframe[0].value
    assert list(zip(table["Report"], table["Answer"], table["Answering row"])) == expected
    mnist = table[table["Report"] == "mnist.md"].iloc[0]
    assert mnist["Paper"] == pytest.approx(0.979) and 0 < mnist["Ours"] < 1 and mnist["Budget"].startswith(
        "mnist_small, 30 epochs")
    counts = next(c.value for c in at.caption if c.value.endswith(f"of {len(expected)} figures."))
    assert f"**{sum(a == 'no' for _, a, _ in expected)}** no" in counts
    research = published.research_reports()
    assert {s.value for s in at.subheader} >= {r.title for r in research}
    assert len(at.image) == sum(r.plot is not None for r in research)
    labels = [e.label for e in at.expander]
    assert all(any(label.startswith(f"results/{r.name}: ") for label in labels) for r in published.grid_reports())
    assert not at.warning, [w.value for w in at.warning]  # every committed report is current


def test_a_report_older_than_todays_rules_is_flagged_and_no_reports_is_said(tmp_path, monkeypatch):
    for suffix in (".md", ".csv", ".json"):
        shutil.copy(published.RESULTS / f"mnist{suffix}", tmp_path / f"mnist{suffix}")
    (tmp_path / "mnist.md").write_text((tmp_path / "mnist.md").read_text().replace("**no**", "**yes**"))
    monkeypatch.setattr(published, "RESULTS", tmp_path)
    at = run_app("claims")
    no_errors(at)
    assert at.dataframe[0].value["Answer"].tolist() == ["no"]  # from the CSV, not the text
    assert any("older than today's rules" in w.value for w in at.warning)
    monkeypatch.setattr(published, "RESULTS", tmp_path / "absent")
    at = run_app("claims")
    no_errors(at)
    assert any("no reports" in i.value for i in at.info)


def test_report_text_keeps_code_and_escapes_what_streamlit_would_read_as_maths():
    text = "run `reproduce --data-dir $MAESI_DATA` on ~150k rows for $5 and ~2 h"
    assert markdown_text(text) == r"run `reproduce --data-dir $MAESI_DATA` on \~150k rows for \$5 and \~2 h"
    assert demoted("# T\n\ntext #1\n## S") == "#### T\n\ntext #1\n##### S"
    assert budget_text({"preset": "kdd99", "epochs": 30, "max_train": 20000}) == "kdd99, 30 epochs, 20,000 samples"
    assert budget_text({"preset": "thyroid", "epochs": 100, "max_train": None}) == "thyroid, 100 epochs, all training data"
    assert budget_text({}) == ""
