"""Paper claims: "Does the paper reproduce?" as the reports committed under results/ answer it, recomputed by core
from their CSV and JSON, and the research questions with their answers and plots."""
import pandas as pd
import streamlit as st

from app.claims.text import budget_text, demoted, markdown_text

ANSWER_COLOURS = {"yes": "#d8f0d8", "partly": "#fbefc8", "no": "#f8d7d3"}


def _mtimes(paths) -> tuple:
    return tuple((str(p), p.stat().st_mtime_ns) for p in paths if p.exists())


@st.cache_data(show_spinner=False, max_entries=8)
def _reports(stamp: tuple) -> dict:
    """Everything the page shows, from the files whose (path, mtime) make `stamp`: recomputed when one changes."""
    from core.evaluation.claims import ANSWER_RULE, row_budget
    from core.evaluation.published import grid_reports, research_reports, title

    grids = []
    for r in grid_reports():
        text = r.markdown.read_text()
        grids.append({
            "name": r.name, "title": title(text), "validation": r.is_validation_log,
            "claims": r.claim_lines(), "comparison": r.comparison_lines(), "markdown": text,
            "current": r.render() == text, "csv": r.csv.read_bytes(),
            "answers": [{  # the table's columns, in order
                "Claim": a.label + (f" (classes {', '.join(a.classes)})" if a.classes else ""),
                "Metric": a.metric.upper(), "Answer": a.answer,
                "Ours": a.ours[0], "± sd": a.ours[1] if a.ours[2] > 1 else None, "Seeds": a.ours[2],
                "Paper": a.paper, "Strongest peer": a.peer[0] if a.peer else None,
                "Peer": a.peer[1] if a.peer else None, "Answering row": a.row,
                "Budget": budget_text(row_budget(r.meta, a.col[0], a.row)[0]), "Report": r.name,
                "Device": "; ".join(sorted(set(r.meta.get("devices", [])))),
            } for a in r.answers()],
        })
    research = [{"name": r.name, "title": r.title, "answer": r.answer, "command": r.command, "markdown": r.text,
                 "plot": r.plot.read_bytes() if r.plot else None} for r in research_reports()]
    return {"grids": grids, "research": research, "rule": ANSWER_RULE}


def _stamp() -> tuple:
    """(path, mtime) of every file the page shows: the reports, their CSV and JSON, the research plots."""
    from core.evaluation.published import grid_reports, research_reports

    files = [f for r in grid_reports() for f in (r.markdown, r.csv, r.markdown.with_suffix(".json"))]
    files += [f for r in research_reports() for f in (r.markdown, r.plot) if f is not None]
    return _mtimes(files)


def summary(grids: list[dict]) -> None:
    rows = [a for g in grids for a in g["answers"]]
    if not rows:
        st.info("No report here answers a claim of the paper yet (run `python -m core reproduce`).")
        return
    frame = pd.DataFrame(rows)
    st.dataframe(
        frame.style.map(lambda v: f"background-color: {ANSWER_COLOURS.get(v, '')}", subset=["Answer"]),
        hide_index=True, key="claims_summary", placeholder="—",
        column_config={
            "Ours": st.column_config.NumberColumn(format="%.4f", help="the answering row's mean over its seeds"),
            "± sd": st.column_config.NumberColumn(format="%.4f", help="sample standard deviation over seeds"),
            "Paper": st.column_config.NumberColumn(
                format="%.4f", help="the paper's figure (empty: the paper prints none; see the report's line)"),
            "Peer": st.column_config.NumberColumn(format="%.4f", help="the strongest peer of the same run"),
            "Answering row": st.column_config.TextColumn(help="always the paper's method (feature score, no "
                                                               "reconstruction term)"),
        })
    counts = frame["Answer"].value_counts()
    st.caption(" · ".join(f"**{counts.get(k, 0)}** {k}" for k in ANSWER_COLOURS) + f" of {len(frame)} figures.")


def research_section(research: list[dict]) -> None:
    for r in research:
        st.subheader(r["title"])
        left, right = st.columns([3, 2])
        left.markdown(markdown_text(r["answer"]) if r["answer"] else "_No answer section yet._")
        if r["command"]:
            left.caption(markdown_text(f"Regenerate: `{r['command']}` (results/{r['name']})"))
        if r["plot"]:
            right.image(r["plot"], caption=f"results/{r['name'][:-3]}.png", width="stretch")
        with st.expander(f"The whole report: results/{r['name']}"):
            st.markdown(markdown_text(demoted(r["markdown"])))


def report_section(g: dict) -> None:
    label = f"results/{g['name']}: {g['title']}"
    with st.expander(label, expanded=False):
        if not g["current"]:
            st.warning("This file is older than today's rules: `python -m scripts.render_reports` renders it again.")
        if g["claims"]:
            st.markdown(markdown_text("\n".join(g["claims"])))
        if g["comparison"]:
            st.markdown("**Against what a user would pick instead**")
            st.markdown(markdown_text("\n".join(g["comparison"])))
        st.download_button("Download the CSV", g["csv"], file_name=g["name"].replace("/", "_")[:-3] + ".csv",
                           mime="text/csv", key=f"claims_csv_{g['name']}")
        if st.toggle("Show the whole report (setup, commands, every table)", key=f"claims_full_{g['name']}"):
            st.markdown(markdown_text(demoted(g["markdown"])))


def main() -> None:
    st.title("Paper claims")
    st.caption("Does the paper reproduce? The answers of the reports committed under `results/`, recomputed from their CSV and JSON by "
               "`core.evaluation.claims` each time a file changes; every report lists the commands that regenerate "
               "it, and `python -m core reproduce` adds to them.")
    stamp = _stamp()
    if not stamp:
        st.info("This installation has no reports: they come with the repository, in its `results/` folder.")
        return
    data = _reports(stamp)
    grids = [g for g in data["grids"] if not g["validation"]]
    summary(grids)
    st.caption(markdown_text(data["rule"]))
    st.header("Research questions")
    research_section(data["research"])
    st.header("Reports")
    for g in grids:
        report_section(g)
    logs = [g for g in data["grids"] if g["validation"]]
    if logs:
        st.subheader("Validation searches")
        st.caption("Logs of the searches on the development partition that chose the `@chosen` settings: they answer "
                   "no claim.")
        for g in logs:
            report_section(g)


main()
