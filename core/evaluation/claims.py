"""The plain answers at the top of every report: does each claim of the paper hold in our hands, and how do the
maesi rows compare with what a user would otherwise pick?

Which maesi row answers a claim: always one that is the paper's method (`methods.is_papers_method`: the feature
score, no reconstruction term), the development-chosen row (``maesi-3pt@chosen``) when the report has it, else the
paper-setting row (``maesi-3pt``); picking the best row on the reported seeds would be tuning on them. The best
variant found on the development partition (``maesi-3pt@variant``: an L2 score, a reconstruction term, another
learning rate) gets a line of its own, so that a reader sees both answers. The answer:

* **yes**: its mean reaches the paper's figure within max(its standard deviation, 0.005);
* **partly**: it does not, but it is at or above the strongest peer of the same run (the best PyOD or classical
  row) and, for an AUC, above chance (at least 0.55: below it the score ranks anomalies little better than a coin,
  so matching a peer that is at chance too is no partial reproduction), or (Table 2's Thyroid, where the paper
  prints precision and recall only) one of the two is reached;
* **no**: below the paper and below the strongest peer.

Each answer is computed first (`paper_answers`, `interpolation_answers`, `peer_standings`, `miss_reason`), then
worded (`claim_lines`, `comparison_lines`), so that what a report says is checked apart from how it says it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from core.evaluation.methods import VARIANT, is_maesi, is_papers_method, is_twin, parse_method
from core.evaluation.peers import DEEP_PEERS
from core.evaluation.report_tables import Measured

PAPER_CLAIMS = {  # experiment -> (metric, column class, what the paper claims, in words)
    "tabular": ("f1", "", "Table 2"),
    "mnist": ("auc", "mean", "Table 3, mean over classes"),
    "fashion_mnist": ("auc", "mean", "Table 5, mean over classes"),
    "cifar10": ("auc", "mean", "Table 1, mean over the classes run"),
    "coil100": ("auc", "", "Table 4"),
}
ABLATION_BASES = ("maesi-3pt", "maesi-2pt", "maesi-none")


def answering_row(m: Measured, col: tuple | None = None, metric: str = "auc") -> str | None:
    """The row that answers for column `col` (any column when None): the development-chosen row, else the chosen
    settings at a stated reduced budget (``maesi-3pt@chosen@max_train=...``, where the paper budget does not fit a
    CPU), else the paper setting; only a row that is the paper's method."""
    reduced = sorted(r for r in m.methods if r.startswith("maesi-3pt@chosen@") and not is_twin(r))
    for name in ("maesi-3pt@chosen", *reduced, "maesi-3pt"):
        if name in m.methods and is_papers_method(name) and (col is None or m.stat(name, col, metric)[2]):
            return name
    return None


def variant_row(m: Measured, col: tuple, metric: str) -> str | None:
    """The row of the best variant found on the development partition that ran in column `col`: at the report's
    budget, else at a stated reduced one."""
    reduced = sorted(r for r in m.methods if r.startswith(f"maesi-3pt@{VARIANT}@") and not is_twin(r))
    for name in (f"maesi-3pt@{VARIANT}", *reduced):
        if name in m.methods and m.stat(name, col, metric)[2]:
            return name
    return None


def variant_text(m: Measured, a, meta: dict) -> str:
    """" Best variant ...": the development partition's best setting that is not the paper's method, measured on
    the same column; "" when the report has no such row."""
    row = variant_row(m, a.col, a.metric)
    if row is None:
        return ""
    settings = ((meta.get("chosen") or {}).get(a.col[0], {}).get("best_variant") or {}).get("settings")
    named = f" = `maesi-3pt@{settings}`" if settings else ""
    return (f" Best variant (not the paper's method; chosen on the development partition): `{row}`{named} "
            f"{a.metric.upper()} {_fmt(m.stat(row, a.col, a.metric))}.")


CHANCE_AUC = 0.55  # an AUC mean below this ranks the anomalies little better than a random score

# The legend under every report's answers (and the lab's Paper claims page).
ANSWER_RULE = (
    "*yes*: our row reaches the paper's figure within its seeds' standard deviation (at least 0.005); "
    "*partly*: it does not, but it is at or above the strongest peer of the same run (for an AUC, only "
    f"above chance: {CHANCE_AUC} or more); *no*: below both, or at chance. "
    "The answering row is always the paper's method (the D_recon feature score, no reconstruction term, "
    "the preset's learning rate): the one whose free choices (profile, scaling) were made on the "
    "development partition (`maesi-3pt@chosen`; `maesi-3pt@chosen@...` where it ran at a stated reduced "
    "budget) when the report has it, else the paper's setting (`maesi-3pt`); choosing the best row on "
    "the reported seeds would be tuning on them. A best variant (`maesi-3pt@variant`) is not the paper's "
    "method and never answers; it is shown beside the answer.")


def at_chance(mean: float, metric: str) -> bool:
    """An AUC too near (or below) 0.5 to count as detecting anything; other metrics have no chance level here."""
    return metric == "auc" and mean < CHANCE_AUC


def verdict(ours: tuple, paper: float, peer: tuple | None, metric: str = "auc") -> str:
    mu, sd, _ = ours
    if mu >= paper - max(sd, 0.005):
        return "yes"
    if peer is not None and mu >= peer[1] and not at_chance(mu, metric):
        return "partly"
    return "no"


def _fmt(stat: tuple) -> str:
    mu, sd, n = stat
    return f"{mu:.4f}" if n == 1 else f"{mu:.4f} ± {sd:.4f} ({n} seeds)"


def row_budget(meta: dict, dataset: str, row: str | None = None) -> tuple[dict, dict]:
    """(the budget `row` ran at, the part the row's own "@epochs=" / "@max_train=" set): the report's budget for
    `dataset` (preset, epochs, max_train) with the row's own settings over it; ({}, {}) when the report has none."""
    b = dict(meta.get("budgets", {}).get(dataset) or {})
    if not b:
        return {}, {}
    own = {k: v for k, v in (parse_method(row)[1] if row else {}).items() if k in ("epochs", "max_train")}
    return {**b, **own}, own


def _budget_words(meta: dict, dataset: str, row: str | None = None) -> str:
    b, own = row_budget(meta, dataset, row)
    if not b:
        return f"Budget `{meta.get('budget', '?')}`"
    rows = "all training data" if b.get("max_train") is None else f"a seeded subset of {b['max_train']}"
    words = f"Budget `{meta.get('budget')}`: preset `{b['preset']}`, {b['epochs']} epochs, {rows}"
    return words + (f" (the row's own {' and '.join(f'{k}={v}' for k, v in own.items())})" if own else "")


@dataclass(frozen=True)
class PaperAnswer:
    """One figure of the paper answered by a report's row."""

    label: str  # where the paper claims it: "Table 5, mean over classes, fashion_mnist"
    col: tuple  # the report's column (dataset, class)
    metric: str
    row: str  # the maesi row that answers (`answering_row`)
    ours: tuple  # (mean, sd, n seeds) of `metric`
    paper: float | None  # the paper's figure; None where it prints none (Table 2's Thyroid F1)
    peer: tuple | None  # (name, mean) of the strongest peer of the same column; None when no peer ran
    answer: str  # "yes" | "partly" | "no"
    classes: tuple = ()  # a class mean over the classes the row ran only: those classes (the paper's mean too)
    # where `paper` is None: (metric, our (mean, sd, n), the paper's figure, reached?) of what the paper prints
    printed: tuple = ()


def paper_answers(m: Measured, experiment: str) -> list[PaperAnswer]:
    """Every claim of the paper that this report can answer, per dataset and column."""
    if experiment not in PAPER_CLAIMS or answering_row(m) is None:
        return []
    metric, klass, where = PAPER_CLAIMS[experiment]
    out = []
    for d in m.datasets:
        for col in [c for c in m.cols if c[0] == d and (c[1] == klass or (klass == "" and c[1] != "mean"))]:
            row = answering_row(m, col, metric)
            if row is None and col[1] == "mean":
                out += filter(None, [subset_mean_answer(m, d, metric, where)])
                continue
            key = ("maesi-3pt", d, col[1], metric)
            ours = m.stat(row, col, metric)
            if not ours[2] or key not in m.pvals:
                continue
            peer = m.strongest_peer(col, metric)
            label = f"{where}, {d}" + (f" class {col[1]}" if col[1] not in ("", "mean") else "")
            if m.pvals[key] in (None, ""):
                out.append(_printed_figures_answer(m, label, col, metric, row, ours, peer))
            else:
                paper = float(m.pvals[key])
                out.append(PaperAnswer(label, col, metric, row, ours, paper, peer,
                                       verdict(ours, paper, peer, metric)))
    return out


def _printed_figures_answer(m: Measured, label: str, col: tuple, metric: str, row: str, ours: tuple,
                            peer: tuple | None) -> PaperAnswer:
    """Table 2's Thyroid, where the paper prints precision and recall only: yes when both are reached, partly when
    one is or the row is at or above the strongest peer's `metric`."""
    printed = []
    for x in ("precision", "recall"):
        p = m.pvals.get(("maesi-3pt", col[0], col[1], x))
        s = m.stat(row, col, x)
        if p not in (None, "") and s[2]:
            printed.append((x, s, float(p), s[0] >= float(p) - max(s[1], 0.005)))
    reached = sum(hit for *_, hit in printed)
    answer = "yes" if reached == 2 else "partly" if reached or (peer and ours[0] >= peer[1]) else "no"
    return PaperAnswer(label, col, metric, row, ours, None, peer, answer, printed=tuple(printed))


def subset_mean_answer(m: Measured, d: str, metric: str, where: str) -> PaperAnswer | None:
    """A mean claim when the answering row ran only some classes (CIFAR-10 on a CPU): our mean, the paper's and the
    strongest peer's, each over the same classes."""
    row = answering_row(m)
    ran = m.classes_run(row, d, metric)
    published = [m.pvals.get(("maesi-3pt", d, k, metric)) for k in ran]
    if not ran or any(p in (None, "") for p in published):
        return None
    paper = sum(float(p) for p in published) / len(ran)
    ours = m.stat(row, (d, "mean"), metric, ran)
    peer = m.strongest_peer((d, "mean"), metric, ran)
    return PaperAnswer(f"{where}, {d}", (d, "mean"), metric, row, ours, paper, peer,
                       verdict(ours, paper, peer, metric), classes=tuple(ran))


def claim_lines(m: Measured, experiment: str, meta: dict) -> list[str]:
    """One line per claim of the paper that this report can answer."""
    out = [_answer_line(m, a, meta) for a in paper_answers(m, experiment)]
    if experiment in PAPER_CLAIMS and answering_row(m) is not None:
        metric, klass, _ = PAPER_CLAIMS[experiment]
        out += [_interpolation_line(a, experiment) for a in
                interpolation_answers(m, metric if experiment == "tabular" else "auc", klass)]
    return out


def _chance_text(a: PaperAnswer) -> str:
    """Why a row at or above the strongest peer is still a "no": its AUC is at chance."""
    if a.answer != "no" or not a.peer or a.ours[0] < a.peer[1] or not at_chance(a.ours[0], a.metric):
        return ""
    return (f" At or above the strongest peer, but at chance (AUC below {CHANCE_AUC}): neither ranks these anomalies "
            f"much better than a random score, so this is no partial reproduction.")


def _answer_line(m: Measured, a: PaperAnswer, meta: dict) -> str:
    d = a.col[0]
    peer_text = f"the strongest peer `{a.peer[0]}` {a.peer[1]:.4f}" if a.peer else "no peer ran"
    budget = _budget_words(meta, d, a.row)
    if a.classes:
        return (f"- **{a.label}**, over the {len(a.classes)} of {len(m.classes(d))} classes run "
                f"({', '.join(a.classes)}; {a.metric.upper()} {a.paper:.4f} in the paper over the same classes): "
                f"**{a.answer}**. Our `{a.row}` {_fmt(a.ours)}; {peer_text}.{_chance_text(a)} {budget}.")
    others = [r for r in m.methods if r != a.row and not is_twin(r) and is_papers_method(r) and
              (r == "maesi-3pt" or r.startswith(("maesi-3pt@chosen", "maesi-3pt@profile=authors")))]
    context = "; ".join(filter(None, (f"`{r}` {_fmt(m.stat(r, a.col, a.metric))}" if m.stat(r, a.col, a.metric)[2]
                                      else _partial_mean_text(m, r, a.row, a.col, a.metric) for r in others)))
    also = f"; also {context}" if context else ""
    if a.paper is None:
        parts = [f"{x} {s[0]:.4f} ± {s[1]:.4f} vs the paper's {p:.4f} ({'reached' if hit else 'not reached'})"
                 for x, s, p, hit in a.printed]
        return (f"- **{a.label}** (the paper prints precision and recall, its F1 is missing): **{a.answer}**. "
                f"Our `{a.row}`: {', '.join(parts)}; F1 {_fmt(a.ours)} vs {peer_text}{also}. {budget}."
                + variant_text(m, a, meta))
    return (f"- **{a.label}** ({a.metric.upper()} {a.paper:.4f} in the paper): **{a.answer}**. Our `{a.row}` "
            f"{_fmt(a.ours)}; {peer_text}{also}.{_chance_text(a)} {budget}." + variant_text(m, a, meta))


def partial_mean(m: Measured, row: str, ref: str, col: tuple, metric: str) -> tuple | None:
    """A row that ran on only some classes of a "mean" column: (those classes, its mean over them, the answering
    row `ref`'s mean over the same ones), since a mean over all classes would mix different class sets; None for
    another column or when `ref` ran none of them."""
    d, k = col
    if k != "mean":
        return None
    ran = m.classes_run(row, d, metric)
    mine, theirs = m.stat(row, col, metric, ran), m.stat(ref, col, metric, ran)
    if not theirs[2]:  # also when the row ran no class
        return None
    return tuple(ran), mine[0], theirs[0]


def _partial_mean_text(m: Measured, row: str, ref: str, col: tuple, metric: str) -> str:
    found = partial_mean(m, row, ref, col, metric)
    if found is None:
        return ""
    ran, mine, theirs = found
    return (f"`{row}` ran on {len(ran)} of {len(m.classes(col[0]))} classes ({', '.join(ran)}): mean {mine:.4f} "
            f"there, against `{ref}` {theirs:.4f} on the same classes")


@dataclass(frozen=True)
class InterpolationAnswer:
    """Fig. 5's claim at one setting (the rows `maesi-*@<suffix>`): 3-point and 2-point against no interpolation."""

    suffix: str  # the settings the three rows share ("" = the paper's)
    metric: str
    means: dict = field(default_factory=dict)  # dataset -> {"maesi-3pt" | "maesi-2pt" | "maesi-none": mean}
    classes: dict = field(default_factory=dict)  # dataset -> the classes of a class mean that not all rows ran
    wins: int = 0  # comparisons with no interpolation that are higher
    total: int = 0
    one_seed: bool = False  # every mean is over one seed: no spread measured

    @property
    def answer(self) -> str:
        return "yes" if self.wins == self.total else "partly" if self.wins else "no"


def interpolation_answers(m: Measured, metric: str, klass: str) -> list[InterpolationAnswer]:
    """Fig. 5: "interpolation improves AUC": 3-point and 2-point against no interpolation, same settings (for a
    class mean, over the classes all three rows ran)."""
    suffixes = sorted({"@".join(r.split("@")[1:]) for r in m.methods if is_maesi(r) and not is_twin(r)
                       and parse_method(r)[0] == "maesi-none"})
    out = []
    for suffix in suffixes:
        name = {b: b + (f"@{suffix}" if suffix else "") for b in ABLATION_BASES}
        if not all(n in m.methods for n in name.values()):
            continue
        means, classes, seeds = {}, {}, set()
        for d in m.datasets:
            col = next((c for c in m.cols if c[0] == d and (c[1] == klass or klass == "")), None)
            ran = ([k for k in m.classes(d) if all(m.stat(n, (d, k), metric)[2] for n in name.values())]
                   if col and col[1] == "mean" else None)
            stats = {b: m.stat(n, col, metric, ran) for b, n in name.items()} if col and ran != [] else {}
            if not stats or not all(s[2] for s in stats.values()):
                continue
            seeds |= {st[2] for st in stats.values()}
            means[d] = {b: st[0] for b, st in stats.items()}
            if ran is not None and len(ran) < len(m.classes(d)):
                classes[d] = tuple(ran)
        wins = sum(ms[b] > ms["maesi-none"] for ms in means.values() for b in ("maesi-3pt", "maesi-2pt"))
        if means:
            out.append(InterpolationAnswer(suffix, metric, means, classes, wins, 2 * len(means), seeds == {1}))
    return out


def _interpolation_line(a: InterpolationAnswer, experiment: str) -> str:
    where = "" if experiment in ("cifar10", "ablation") else "; the paper's Fig. 5 measures it on CIFAR-10"
    per_dataset = []
    for d, ms in a.means.items():
        over = f" (mean over classes {', '.join(a.classes[d])})" if d in a.classes else ""
        per_dataset.append(f"{d}{over}: 3-point {ms['maesi-3pt']:.4f}, 2-point {ms['maesi-2pt']:.4f}, "
                           f"none {ms['maesi-none']:.4f}")
    return (f"- **Fig. 5, interpolation improves the result** (rows `maesi-*{'@' + a.suffix if a.suffix else ''}`, "
            f"{a.metric.upper()}{where}): **{a.answer}**, {a.wins} of {a.total} comparisons with no interpolation "
            f"are higher. " + "; ".join(per_dataset) + ". "
            + ("One seed: the spread is not measured, so small differences may be noise." if a.one_seed
               else "Differences smaller than the seeds' spread are noise."))
IFOREST_ROWS = ("pyod-iforest", "iforest")  # a forest is matched within one sd; every other peer must be beaten


def peer_standings(m: Measured, row: str, col: tuple, metric: str) -> list[tuple[str, tuple, str, bool]]:
    """The answering row against every PyOD deep detector, IForest and PCA that ran: (peer, its (mean, sd, n),
    where we stand, missed?). Against a forest: "at or above", "within one sd of" or "BELOW" (missed); against the
    others: "above" or "NOT above" (missed)."""
    ours = m.stat(row, col, metric)[0]
    out = []
    for peer in [p for p in (*DEEP_PEERS, *IFOREST_ROWS, "pca") if p in m.methods]:
        s = m.stat(peer, col, metric)
        if not s[2]:
            continue
        if peer in IFOREST_ROWS:
            within = abs(ours - s[0]) <= s[1] or ours >= s[0]
            out.append((peer, s, "at or above" if ours >= s[0] else "within one sd of" if within else "BELOW",
                        not within))
        else:
            out.append((peer, s, "above" if ours > s[0] else "NOT above", ours <= s[0]))
    return out


def comparison_lines(m: Measured, experiment: str, chosen: dict | None = None) -> list[str]:
    """The issue's goals, measured: the answering row against every PyOD deep detector and IForest. Where a
    validation-chosen row misses one, `chosen` (the report's chosen settings, with their validation log) says why."""
    metric, klass, _ = PAPER_CLAIMS.get(experiment, ("auc", "mean", ""))
    out = []
    for d in m.datasets:
        col = next((c for c in m.cols if c[0] == d and (c[1] == klass or klass == "")), None)
        row = answering_row(m, col, metric) if col else None
        if row is None:
            continue
        standings = peer_standings(m, row, col, metric)
        parts = [f"{where} `{peer}` {s[0]:.4f}" + (f" ± {s[1]:.4f}" if peer in IFOREST_ROWS else "")
                 for peer, s, where, _ in standings]
        missed = [peer for peer, *_, miss in standings if miss]
        why = _why_missed(missed, (chosen or {}).get(d), metric) if missed and "@chosen" in row else ""
        out.append(f"- {d}: `{row}` {metric.upper()} {m.stat(row, col, metric)[0]:.4f} — " + "; ".join(parts) + why)
    return out


def miss_reason(peer: str, chosen: dict) -> str:
    """Why a validation-chosen row misses `peer`, from what the search met on the validation splits
    (`chosen["validation_log"]`): "not run" there; "no setting beats it" (the best searched setting scored below
    it there too); "not chosen" (one setting beat it, but the health rule chose another); or "did not carry over"
    (the chosen setting beat it on the validation splits, not on the reported ones)."""
    log = chosen["validation_log"]
    peers, best = log["peers"], log["best"]
    if peer not in peers:
        return "not run"
    if best[1] < peers[peer][0]:
        return "no setting beats it"
    if chosen["mean"] < peers[peer][0]:
        return "not chosen"
    return "did not carry over"


def _why_missed(missed: list[str], chosen: dict | None, metric: str) -> str:
    log = (chosen or {}).get("validation_log") or {}
    peers, best = log.get("peers", {}), log.get("best")
    if not best:
        return ""
    parts = []
    for peer in missed:
        reason = miss_reason(peer, chosen)
        if reason == "not run":
            parts.append(f"`{peer}` was not run on the validation seeds")
        elif reason == "no setting beats it":
            parts.append(f"the search found no setting that beats `{peer}`: on the validation seeds the best of the "
                         f"{log['searched']} maesi settings searched (`{best[0]}`) scored {metric.upper()} "
                         f"{best[1]:.4f} ± {best[2]:.4f} against its {peers[peer][0]:.4f} ± {peers[peer][1]:.4f}")
        elif reason == "not chosen":
            parts.append(f"on the validation seeds `{best[0]}` scored {metric.upper()} {best[1]:.4f} against "
                         f"`{peer}` {peers[peer][0]:.4f}, but the choice prefers settings healthy on most seeds and "
                         f"the chosen one scored {chosen['mean']:.4f}")
        else:
            parts.append(f"on the validation seeds the chosen setting scored {metric.upper()} {chosen['mean']:.4f} "
                         f"against `{peer}` {peers[peer][0]:.4f}, so the margin did not carry over to the reported "
                         f"splits")
    return ". Why: " + "; ".join(parts)
