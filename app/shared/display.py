"""Small Streamlit display helpers shared by the pages."""
from __future__ import annotations

import functools
from typing import Optional

import numpy as np
import pandas as pd
import streamlit as st

from app.shared import keys
from app.shared.images import png_bytes


def show_figure(fig, key: str, csv: Optional[pd.DataFrame] = None, csv_name: str = "data.csv", **kw):
    """A plotly figure (its modebar downloads a PNG) with, when given, a CSV download of its data (a button keyed
    `{key}-csv`)."""
    config = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "filename": key, "scale": 2}}
    out = st.plotly_chart(fig, key=key, config=config, **kw)
    if csv is not None:  # written when clicked (a deferred download), not on every run that draws the figure
        st.download_button("Download data (CSV)", functools.partial(_csv_bytes, csv), file_name=csv_name,
                           mime="text/csv", key=f"{key}-csv", on_click="ignore")
    return out


def _csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def show_png(img: np.ndarray, caption: Optional[str] = None, target=None, width: Optional[int] = None):
    """A uint8 image at its own pixel size (never stretched to a long caption), as lossless PNG."""
    target = target or st
    target.image(png_bytes(img), width=int(width or img.shape[1]), output_format="PNG")
    if caption:  # as a caption of its own: an image caption would be squeezed to the image's width
        target.caption(caption)


def lazy_tabs(labels, key: str, kept: Optional[dict] = None) -> dict:
    """{label: tab} of Streamlit tabs of which only the open one runs (each tab's `.open`), bound to the URL's query
    parameter `key`, so that a reload or a link opens the same tab. A tab asked for by `request_tab` opens; a
    stored tab the labels no longer hold gives way to the first. A widget not drawn in a run forgets its value:
    those of the closed tabs listed in `kept` ({label: widget keys, a key ending in "-" a prefix}) are kept (not
    the open tab's, which its widgets keep, and which Streamlit would warn about beside their defaults)."""
    ss = st.session_state
    requested = ss.pop(_requested(key), None)
    if requested in labels:
        ss[key] = requested
    elif ss.get(key) not in labels:
        ss.pop(key, None)
    tabs = dict(zip(labels, st.tabs(list(labels), key=key, on_change="rerun", bind="query-params")))
    for label, tab in tabs.items():
        if tab.open:
            continue
        for name in (kept or {}).get(label, ()):
            for widget in [k for k in ss if k == name or (name.endswith("-") and str(k).startswith(name))]:
                ss[widget] = ss[widget]
    return tabs


def request_tab(key: str, label: str) -> None:
    """Open the tab `label` of the `lazy_tabs` keyed `key` on the next run (from a callback, or from a run that
    has drawn the tabs already)."""
    st.session_state[_requested(key)] = label


def _requested(key: str) -> str:
    return f"_{key}_requested"


def flash() -> None:
    """The notice a button callback left for this run (`keys.FLASH`), as a toast."""
    msg = st.session_state.pop(keys.FLASH, None)
    if msg:
        st.toast(msg)


def skipped_note(skipped: list, target=None, expanded: bool = False) -> None:
    """An expander listing the files of the runs folder that were skipped, each with its reason (nothing when
    none was): one bad file never hides the others nor breaks a page (issue 11)."""
    if not skipped:
        return
    target = target or st
    with target.expander(f"⚠ {len(skipped)} file(s) in your runs folder skipped", expanded=expanded):
        st.markdown("\n".join(f"- `{name}`: {reason}" for name, reason in skipped[:50])
                    + (f"\n- … and {len(skipped) - 50} more" if len(skipped) > 50 else ""))
        st.caption("They are not listed as models; the Models page can delete the broken runs among them.")


def health_verdict(entry: dict, load_model: bool = True) -> Optional[str]:
    """A checkpoint's training-health verdict: the catalogue's record, else (load_model) the loaded model's; None
    when the checkpoint predates the health figures. load_model=False for long lists: no checkpoint is read."""
    verdict = (entry.get("health") or {}).get("verdict")
    if verdict is None and load_model:
        from app.shared import caches

        try:
            verdict = (caches.model(entry["path"]).health_ or {}).get("verdict")
        except Exception:  # noqa: BLE001: an unreadable checkpoint is reported where it is used
            verdict = None
    return verdict


def below_chance(entry: dict) -> bool:
    auc = (entry.get("metrics") or {}).get("auc")
    return isinstance(auc, (int, float)) and auc < 0.5


def health_mark(entry: dict, load_model: bool = True, after_entry_label: bool = False) -> str:
    """Plain-text marks for a model's label (select boxes, legends): " · ⚠ collapsed", " · ⚠ AUC below chance".
    after_entry_label: appended to `catalogue.entry_label`, which marks a verdict the catalogue records already."""
    recorded = (entry.get("health") or {}).get("verdict") is not None
    verdict = None if after_entry_label and recorded else health_verdict(entry, load_model)
    marks = ([f"⚠ {verdict}"] if verdict not in (None, "ok") else []) + (["⚠ AUC below chance"]
                                                                        if below_chance(entry) else [])
    return "".join(f" · {m}" for m in marks)


def health_badges(entry: dict) -> str:
    """Markdown badges beside a model's name: its health verdict when not ok, and an AUC below chance (a
    researcher would suspect a flipped score); "" for a healthy model."""
    verdict = health_verdict(entry)
    out = []
    if verdict not in (None, "ok"):
        out.append(f":orange-badge[:material/warning: health: {verdict}]")
    if below_chance(entry):
        auc = entry["metrics"]["auc"]
        out.append(f":red-badge[AUC {auc:.3f}: below chance]")
    return " ".join(out)
