"""Settings the paper does not print are chosen on the development partition, never on a reported test row.

The reported seeds are 0-4; the validation seeds 100-104 draw their splits inside each dataset's development
partition (`core.evaluation.protocols.development_split`: tabular, a fixed quarter of the normals and of the
anomalies that the reported splits never hold; images, held-out official training images). A search is an
ordinary reproduction grid over maesi settings on the validation seeds, written to ``results/validation/`` (its report is the committed log):

    python -m core reproduce --experiment tabular --budget quick --seed-list 100 101 102 103 104 \
        --methods maesi-3pt maesi-3pt@profile=authors ... --out results/validation --choose

``--choose`` then picks, per dataset, two settings, each with the best mean metric (F1 for tabular data, AUC for
images) among those whose training health is ``ok`` on most validation seeds (if none is, the best overall, and the
file says so): the best that is the paper's method (``@chosen``; `core.evaluation.methods.is_papers_method`) and
the best that is not (``@variant``), and writes ``results/validation/chosen.json``. Rows named ``maesi-*@chosen``
and ``maesi-*@variant`` then train with them; every report that shows them lists the settings and the command
that chose them, and only ``@chosen`` rows answer the paper's claims.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from core.checkpoints.store import atomic_write_bytes
from core.data.registry import get_spec
from core.evaluation.chosen import CHOSEN_FILE, VALIDATION_SEEDS, load_chosen
from core.evaluation.methods import is_maesi, is_papers_method, l2_twin, parse_method
from core.evaluation.metrics import health_counts, mean_std
from core.evaluation.tidy_csv import read_csv


def validation_log(dataset: str, metric: str, folder: Path = CHOSEN_FILE.parent) -> dict:
    """What the search met on `dataset`'s validation splits, read from its committed log (`folder`/<experiment>.csv):
    ``peers`` (every row that is not maesi: method -> [mean, sd, n] of `metric`), ``best`` (the best maesi-3pt
    variant, L2 twins included, healthy or not: [method, mean, sd, n]) and ``searched`` (how many variants ran).
    Empty when there is no log. A report uses it to say why a chosen row misses a peer on the reported seeds."""
    try:
        rows = [r for r in read_csv(Path(folder) / f"{get_spec(dataset).experiment}.csv")
                if r["dataset"] == dataset and r["metric"] == metric and r["seed"].isdigit()
                and int(r["seed"]) in VALIDATION_SEEDS]
    except OSError:
        return {}
    values: dict = {}
    for r in rows:
        values.setdefault(r["method"], []).append(float(r["value"]))
    stats = {method: list(mean_std(v)) for method, v in values.items()}
    variants = {k: v for k, v in stats.items() if parse_method(k)[0] == "maesi-3pt"}
    best = max(variants.items(), key=lambda kv: kv[1][0]) if variants else None
    return {"peers": {k: v for k, v in stats.items() if not is_maesi(k)},
            "best": [best[0], *best[1]] if best else None, "searched": len(variants)}


def _validation_rows(records: list[dict]) -> dict:
    """(dataset, method) -> the records of every maesi-3pt variant on the validation seeds, each variant's L2 twin
    (the same trained models, `metrics_l2`) as a variant of its own."""
    rows: dict = {}
    for rec in records:
        if rec.get("error") or rec["seed"] not in VALIDATION_SEEDS or parse_method(rec["method"])[0] != "maesi-3pt":
            continue
        rows.setdefault((rec["dataset"], rec["method"]), []).append(rec)
        twin = l2_twin(rec["method"], rec["dataset"]) if rec.get("metrics_l2") else None
        if twin:
            rows.setdefault((rec["dataset"], twin), []).append(dict(rec, metrics=rec["metrics_l2"]))
    return rows


def _candidate(method: str, recs: list[dict], metric: str) -> tuple:
    """(healthy on most seeds, mean, -len(name), name, sd, seeds, health counts): `max` prefers health, then the
    mean, then the shorter name."""
    mu, sd, n = mean_std([r["metrics"][metric] for r in recs])
    verdicts = [(r.get("health") or {}).get("verdict") for r in recs]
    healthy = sum(v == "ok" for v in verdicts) > len(verdicts) / 2
    return healthy, mu, -len(method), method, sd, n, health_counts(verdicts)


def choose(records: list[dict], metric: str) -> dict:
    """Per dataset, from the records of a search on the development partition (records of other seeds are
    ignored): ``@chosen``, the best maesi-3pt setting that is the paper's method (`is_papers_method`: its free
    choices only), and ``best_variant``, the best one that is not (an L2 score, a reconstruction term, another
    learning rate), each the best mean `metric` among those healthy on most seeds, else the best overall. A
    setting's L2-scored twin (the same trained models) is a variant of its own."""
    rows = _validation_rows(records)
    chosen: dict = {}
    for dataset in sorted({d for d, _ in rows}):
        tabular = get_spec(dataset).protocol == "tabular"
        found = {True: [], False: []}
        for (d, method), recs in rows.items():
            if d == dataset:
                found[is_papers_method(method)].append(_candidate(method, recs, metric))
        if not found[True]:
            continue  # only variants were searched: nothing may answer for the paper
        healthy, mu, _, method, sd, n, health = max(found[True])
        chosen[dataset] = {"method": method, "settings": explicit_settings(method, tabular), "metric": metric,
                           "mean": mu, "std": sd, "seeds": n, "health": health,
                           "note": "" if healthy else "no setting was healthy on most validation seeds: the best "
                                                      "overall was taken",
                           "candidates": len(found[True]) + len(found[False])}
        if found[False]:
            _, vmu, _, vmethod, vsd, vn, vhealth = max(found[False])
            chosen[dataset]["best_variant"] = {"method": vmethod, "settings": explicit_settings(vmethod, tabular),
                                               "mean": vmu, "std": vsd, "seeds": vn, "health": vhealth}
    return chosen


# The searched settings, written out in full in chosen.json, so that a later change of a preset's default cannot
# change what "@chosen" means.
EXPLICIT = {"profile": "paper", "scaling": "minmax", "lrx": "1", "recon": "0", "score": "feature"}


def explicit_settings(method: str, tabular: bool = True) -> str:
    """'maesi-3pt@lrx=10' -> 'profile=paper@scaling=minmax@lrx=10@recon=0@score=feature' (image presets have no
    scaling choice)."""
    given = dict(p.split("=", 1) for p in method.split("@")[1:])
    return "@".join(f"{k}={given.get(k, v)}" for k, v in EXPLICIT.items() if tabular or k != "scaling")


def write_chosen(records: list[dict], metric: str, command: str, out: Path) -> Path:
    """Choose (see `choose`) and write `out`/chosen.json, merged with what it already holds for other datasets."""
    path = Path(out) / "chosen.json"
    data = load_chosen(path) or {"format": "maesi-chosen-settings", "datasets": {}}
    for dataset, entry in choose(records, metric).items():
        data["datasets"][dataset] = dict(entry, command=command, chosen_at=time.strftime("%Y-%m-%d %H:%M:%S"))
    atomic_write_bytes(path, (json.dumps(data, indent=1, sort_keys=True) + "\n").encode())
    return path
