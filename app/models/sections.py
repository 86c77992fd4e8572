"""The Models page's sections: the checkpoint table (following the sidebar), one checkpoint's details (health
badge and curves, departures from the paper, losses), managing one's own runs (download, rename, delete) and
uploading a checkpoint. The page script (app/models/page.py) lays them out."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from app.models import keys, runs, table, training_figures
from app.shared import caches, catalogue, display, jobs, keys as shared_keys, sidebar
from app.shared.guard import user_text, without_paths

ss = st.session_state
HEALTH_COLOURS = {"ok": "green", "collapsed": "orange", "untrained": "orange", "diverged": "red"}
STATUS_COLOURS = {"stopped": "blue", "interrupted": "orange", "diverged": "red"}


# ------------------------------------------------------------------ table

def checkpoint_table(ctx):
    """The table of checkpoints (by default those of the sidebar's dataset) and the picked one (by default the
    sidebar's first model); returns its entry or None."""
    scopes = table.scopes(ctx.dataset, ctx.anomaly_class)
    if ss.get(keys.SCOPE_FOR) != ctx.dataset or ss.get(keys.SCOPE) not in scopes:
        ss[keys.SCOPE], ss[keys.SCOPE_FOR] = scopes[0], ctx.dataset  # follow the sidebar's dataset
    scope = st.radio("Show", scopes, horizontal=True, key=keys.SCOPE)
    entries = [e for e in ctx.catalogue if table.in_scope(e, scope, ctx.dataset, ctx.anomaly_class)]
    health_help = "Training health (core.training.health): ok, collapsed, untrained or diverged"
    frame = table.models_frame(entries)
    # as tall as its rows (up to 20) and the names whole: the default box showed ten rows and cut long names
    shown = st.dataframe(frame, hide_index=True, on_select="rerun", selection_mode="single-row", key=keys.TABLE,
                         height=table.table_height(len(frame)),
                         column_config={"name": st.column_config.TextColumn("name",
                                                                            width=table.name_width(frame["name"])),
                                        "health": st.column_config.TextColumn("health", help=health_help)})
    n_yours = sum(e.get("source") == "yours" for e in entries)
    st.caption(f"{len(entries) - n_yours} shipped, {n_yours} of yours. Click a row to pick it. AUC/AP on the "
               "protocol's test set; F1 at the top-k% (the known anomaly share) for tables; — = not recorded.")
    if not entries:
        st.info("No checkpoint here yet: choose *all datasets* above, train one (**Train a model**) or upload one "
                "(**Upload a checkpoint**).")
        return None
    by_label = {table.pick_label(e): e for e in entries}
    followed = tuple(e["path"] for e in ctx.entries)
    if ss.get(keys.PICK_FOLLOWS) != followed:  # the sidebar's selection changed: pick its first model
        ss[keys.PICK_FOLLOWS] = followed
        first = next((table.pick_label(e) for e in ctx.entries if table.pick_label(e) in by_label), None)
        if first:
            ss[keys.PICK] = first
    if ss.get(keys.PICK_NEXT) in by_label:
        ss[keys.PICK] = ss.pop(keys.PICK_NEXT)
    rows = (shown or {}).get("selection", {}).get("rows", []) if shown is not None else []
    if rows and rows[0] < len(entries) and ss.get(keys.CLICKED_ROW) != (scope, rows[0]):
        ss[keys.CLICKED_ROW] = (scope, rows[0])  # a click on a row picks it below
        ss[keys.PICK] = table.pick_label(entries[rows[0]])
    if ss.get(keys.PICK) not in by_label:
        ss[keys.PICK] = next(iter(by_label))
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    chosen = by_label[c1.selectbox("Checkpoint", list(by_label), key=keys.PICK)]
    c2.button("Use in the lab", key=keys.USE, on_click=sidebar.use_with_comparison, args=(chosen,),
              type="primary", help="Selects its dataset and anomaly class in the sidebar, with the shipped "
                                   "no / 2-point / 3-point models of that class beside it for comparison.")
    return chosen


# ------------------------------------------------------------------ details

def badges(entry: dict, model) -> str:
    """Markdown badges: the health verdict and, when it did not complete, the training status."""
    verdict = (model.health_ or {}).get("verdict") or table.health_verdict(entry)
    out = [f":{HEALTH_COLOURS.get(verdict, 'gray')}-badge[health: {table.health_mark(verdict)}]"]
    status = model.training_status_ or "completed"
    if status != "completed":
        out.append(f":{STATUS_COLOURS.get(status, 'gray')}-badge[{table.STATUS_MARKS.get(status, status)}]")
    return " ".join(out)


def details(entry: dict) -> None:
    try:
        model = caches.model(entry["path"])
    except Exception as e:  # noqa: BLE001: CheckpointError and anything a damaged file raises
        st.error(f"**{entry['name']} cannot be loaded.** {user_text(e, catalogue.runs_dir())}")
        return
    cfg, health = model.config_, model.health_ or {}
    st.markdown(f"#### {entry['name']} &nbsp; {badges(entry, model)}")
    verdict = health.get("verdict")
    st.caption(table.HEALTH_HELP.get(verdict, "") + ("" if not health.get("reasons") else
                                                      " Why: " + "; ".join(health["reasons"]) + "."))
    notes = model.departures()
    st.markdown("**Not the paper's setting:** " + "; ".join(notes) if notes else
                "**The paper's setting** (no departure from its text).")
    st.markdown(f"preset **{cfg.preset}**, profile **{cfg.profile}**, interpolation **{cfg.interpolation}**, "
                f"λ = {cfg.lam}, {cfg.epochs} epochs, batch {cfg.batch_size}, latent dim {cfg.arch.latent_dim}, "
                f"input {tuple(model.input_shape_)}, {table.selected_epoch_text(model.selected_epoch_)}, "
                f"status {table.status_mark({'status': model.training_status_})}, "
                f"trained in {jobs.fmt_seconds(model.train_seconds_)}")
    history = model.history_ or {}
    left, right = st.columns(2)
    with left:
        if history:
            display.show_figure(training_figures.loss_curves(history, planned_epochs=cfg.epochs),
                                key=keys.LOSSES_CHART)
        else:
            st.caption("No training history recorded.")
    with right:
        if training_figures.has_health_curves(history):
            from core.training.health import THRESHOLDS

            display.show_figure(training_figures.health_curves(history, THRESHOLDS, cfg.arch.latent_dim,
                                                               cfg.epochs), key=keys.HEALTH_CHART)
        else:
            st.info("No training-health curves: this checkpoint was trained before the lab recorded them "
                    "(recon_ratio, output_spread, e_change/g_change, latent_norm per epoch). Retrain it to see them.")
    per_epoch = {k: v for k, v in history.items() if isinstance(v, list) and len(v) == len(history.get("seconds", []))}
    if per_epoch:
        st.download_button("Download the history (CSV)", pd.DataFrame(per_epoch).to_csv(index_label="epoch").encode(),
                           file_name=f"history-{entry['name']}.csv", mime="text/csv", key=keys.HISTORY_CSV)
    timeline = caches.timeline(entry)
    if timeline is not None:
        epochs, latents, _ = timeline
        st.caption(f"Training timeline: {len(epochs)} snapshots (epochs {int(epochs[0]) + 1}–{int(epochs[-1]) + 1}) "
                   f"of {latents.shape[1]} test samples' latents, for the Latent map.")
    with st.expander("Command and metrics"):
        st.code(without_paths(entry.get("command") or "(no command recorded)"), language="bash")
        st.json(entry.get("metrics") or {}, expanded=False)


# ------------------------------------------------------------------ your runs: download, rename, delete

def _rename(entry: dict) -> None:
    """Button callback (runs before the rerun, so it may update the sidebar's selection)."""
    try:
        new = runs.rename_run(entry["path"], ss.get(keys.RENAME_TO, ""), catalogue.runs_dir())
    except Exception as e:  # noqa: BLE001: CheckpointError, or an OS error from the folder
        ss[keys.MANAGE_ERROR] = f"Not renamed: {user_text(e, catalogue.runs_dir())}"
        return
    new_path = str(new.resolve())
    ss[shared_keys.MODELS] = [new_path if p == entry["path"] else p for p in ss.get(shared_keys.MODELS, [])]
    ss[keys.PICK] = table.pick_label({"name": new.name[: -len(".safetensors")], "source": "yours"})
    ss[shared_keys.FLASH] = f"Renamed {entry['name']} to {ss[keys.PICK].removesuffix(' (yours)')}."
    ss.pop(keys.RENAME_TO, None)


def _delete(entry: dict) -> None:
    try:
        removed = runs.delete_run(entry["path"], catalogue.runs_dir())
    except Exception as e:  # noqa: BLE001
        ss[keys.MANAGE_ERROR] = f"Not deleted: {user_text(e, catalogue.runs_dir())}"
        return
    ss[shared_keys.MODELS] = [p for p in ss.get(shared_keys.MODELS, []) if p != entry["path"]]
    ss.pop(keys.CONFIRMING_DELETE, None)
    ss[shared_keys.FLASH] = f"Deleted {entry['name']} ({', '.join(removed)})."


def manage(entry: dict) -> None:
    """Download, rename and delete one of the user's runs (the shipped checkpoints are read-only)."""
    if entry.get("source") != "yours" or not runs.is_in(entry["path"], catalogue.runs_dir()):
        return
    with st.container(border=True):
        st.markdown(f"**Your run {entry['name']}**: its files in your runs folder")
        if ss.get(keys.MANAGE_ERROR):
            st.error(ss.pop(keys.MANAGE_ERROR))
        c1, c2, c3 = st.columns([1, 2, 1], vertical_alignment="bottom")
        files = ", ".join(p.name for p in runs.run_files(entry["path"]))
        c1.download_button("Download (zip)", data=lambda: runs.run_zip(entry["path"])[0], mime="application/zip",
                           file_name=f"{entry['name']}.zip", key=keys.DOWNLOAD,
                           help=f"{files}: upload the .safetensors and .json again to restore it.")
        c2.text_input("New name", key=keys.RENAME_TO, placeholder=entry["name"],
                      help="Letters, digits, '.', '_' and '-'; up to 100 characters.")
        c2.button("Rename", key=keys.RENAME, on_click=_rename, args=(entry,))
        if ss.get(keys.CONFIRMING_DELETE) != entry["path"]:
            c3.button("Delete…", key=keys.DELETE, on_click=lambda: ss.update({keys.CONFIRMING_DELETE: entry["path"]}))
        else:
            st.warning(f"Delete **{entry['name']}** ({files}) for good? This cannot be undone.")
            d1, d2 = st.columns(2)
            d1.button("Yes, delete it", key=keys.DELETE_CONFIRM, type="primary", on_click=_delete, args=(entry,))
            d2.button("Cancel", key=keys.DELETE_CANCEL, on_click=lambda: ss.pop(keys.CONFIRMING_DELETE, None))


# ------------------------------------------------------------------ skipped files of the runs folder

def _deletable(name: str) -> bool:
    return name.endswith((".safetensors", ".json")) and name != "manifest.json"


def _delete_skipped(names: list) -> None:
    done, failed = [], []
    for name in names:
        try:
            done += runs.delete_run(catalogue.runs_dir() / name, catalogue.runs_dir())
        except Exception as e:  # noqa: BLE001
            failed.append(f"{name}: {user_text(e, catalogue.runs_dir())}")
    ss.pop(keys.CONFIRMING_SKIPPED, None)
    ss[shared_keys.FLASH] = f"Deleted {len(done)} file(s)." + (f" Not deleted: {'; '.join(failed)}" if failed else "")


def skipped_section() -> None:
    """The files of the runs folder the catalogue skipped, each with its reason, and a way to delete the broken
    runs among them (a broken manifest is only reported: the listing already ignores it)."""
    skipped = catalogue.skipped_files()
    display.skipped_note(skipped, expanded=True)
    names = sorted({name for name, _ in skipped if _deletable(name)})
    if not names:
        return
    if ss.get(keys.CONFIRMING_SKIPPED) != names:
        st.button(f"Delete the {len(names)} broken run file(s)…", key=keys.SKIPPED_DELETE,
                  on_click=lambda: ss.update({keys.CONFIRMING_SKIPPED: names}))
    else:
        st.warning("Delete " + ", ".join(f"`{n}`" for n in names) + " (and their other halves) for good?")
        d1, d2 = st.columns(2)
        d1.button("Yes, delete them", key=keys.SKIPPED_CONFIRM, type="primary", on_click=_delete_skipped,
                  args=(names,))
        d2.button("Cancel", key=keys.SKIPPED_CANCEL, on_click=lambda: ss.pop(keys.CONFIRMING_SKIPPED, None))


# ------------------------------------------------------------------ upload

def upload() -> None:
    up = st.file_uploader("A checkpoint pair: NAME.safetensors and NAME.json", accept_multiple_files=True,
                          type=["safetensors", "json"], key=keys.UPLOAD)
    if not up:
        return
    weights = [f for f in up if f.name.endswith(".safetensors")]
    sidecars = [f for f in up if f.name.endswith(".json")]
    if len(weights) != 1 or len(sidecars) != 1:
        st.error(f"Upload exactly one .safetensors file and its .json sidecar (got {len(weights)} weights file(s) "
                 f"and {len(sidecars)} sidecar(s)).")
        return
    if not st.button("Add to my runs", key=keys.ADD_UPLOAD):
        return
    from core.checkpoints.store import load_bytes_checkpoint

    try:  # validates everything (schema, budget, weights against the networks) before storing a byte
        stored = load_bytes_checkpoint(weights[0].getvalue(), sidecars[0].getvalue(), catalogue.runs_dir())
    except Exception as e:  # noqa: BLE001: CheckpointError; anything else is refused the same way
        st.error(f"**Not a usable maesi checkpoint; nothing was stored.** {user_text(e, catalogue.runs_dir())}")
        return
    name = stored.name[: -len('.safetensors')]
    ss[shared_keys.FLASH] = f"Stored as {name} in your runs."
    ss[keys.PICK_NEXT], ss[keys.SCOPE] = f"{name} (yours)", "your runs"
    display.request_tab(keys.TAB, keys.TABS[0])  # the table, with the stored run picked
    st.rerun()
