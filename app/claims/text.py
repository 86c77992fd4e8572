"""The Paper claims page's text: report Markdown as Streamlit shows it, and the short budget of a row."""
import re


def demoted(text: str, levels: int = 3) -> str:
    """A whole report inside the page: its headings `levels` levels down, under the page's own."""
    return "\n".join("#" * levels + line if line.startswith("#") else line for line in text.splitlines())


def markdown_text(text: str) -> str:
    """Report Markdown for st.markdown: `$` and `~` outside code spans escaped, as Streamlit reads `$...$` as LaTeX
    and a single `~` as strikethrough (commands name `$MAESI_DATA`, text says `~150k`)."""
    parts = re.split(r"(`[^`]*`)", text)
    return "".join(p if p.startswith("`") else p.replace("$", r"\$").replace("~", r"\~") for p in parts)


def budget_text(b: dict) -> str:
    """"mnist_small, 30 epochs, 5000 samples": what the answering row trained with."""
    if not b:
        return ""
    rows = "all training data" if b.get("max_train") is None else f"{b['max_train']:,} samples"
    return f"{b['preset']}, {b['epochs']} epochs, {rows}"
