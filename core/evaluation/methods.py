"""The row vocabulary of the tables: which method names exist, what settings a ``maesi-*`` name may carry, and
which rows are maesi rows, their L2-scored twins, or deep. Every part of the harness (the grid, the choice of
settings, the reports) reads a row name here, so one name means one thing everywhere; the estimator behind a
name is built by `core.evaluation.baselines.make_method`.

A ``maesi-*`` name may carry settings after ``@``, each ``key=value``: ``maesi-3pt@profile=authors@lrx=10``. Keys:
profile (paper|authors), scaling (minmax|zscore|none), lr (a learning rate for every optimiser), lrx (a multiple of
the preset's learning rate), recon (the weight of the L2 reconstruction stabiliser), epochs, max_train (train on a
seeded subset of at most this many samples), tfd, lam, alpha (authors|dirichlet), lipschitz (gp|hinge-sn), score
(feature|l2|latent_norm); ``@chosen``: the settings chosen for the dataset on its development partition
(`core.evaluation.chosen`), always the paper's method; ``@variant``: the best variant found there that is not the
paper's method. Rows with settings are departures from the paper's printed setting, and their names say what
differs.

The paper's method (`is_papers_method`) is Section 5's: the D_recon feature score, no reconstruction term, the
supplementary tables' learning rates. Choices the paper does not print (profile, feature scaling, a budget's
epochs or subset) keep a row the paper's method; an L2 score, a reconstruction term or another learning rate make
it a variant, which a report labels "not the paper's method" and never lets answer a claim.

The L2 twin of a feature-scored maesi row (`l2_twin`) is the same row scored by its L2 reconstruction error
instead of the paper's feature score, named ``<row>@score=l2``: a sanity row that the grid records from the same
trained models.
"""
from __future__ import annotations

from core.evaluation.chosen import chosen_settings, variant_settings
from core.evaluation.peers import DEEP_PEERS, PEERS

MAESI_BASES = {"maesi-3pt": 3, "maesi-2pt": 2, "maesi-acai": "acai", "maesi-none": 0}
NOREG = "-noreg"  # a maesi base without the latent regulariser R(E) (Fig. 5's ablation)
OWN_BASELINES = ("ocsvm", "pca", "ae-l2")
SANITY_ROWS = ("mean-distance",)
# Every non-maesi row, in table order: the library's peers, our baselines, the sanity rows.
BASELINES = PEERS + OWN_BASELINES + SANITY_ROWS
ALIASES = {"iforest": "pyod-iforest"}
ABLATIONS = tuple(b + s for b in MAESI_BASES for s in ("", NOREG))
# The settings a maesi row name may carry after "@" (`key=value`), with the type of each value.
VARIANT_KEYS = {"lr": float, "lrx": float, "epochs": int, "tfd": int, "lam": float, "alpha": str, "lipschitz": str,
                "score": str, "profile": str, "scaling": str, "recon": float, "max_train": int}
CHOSEN = "chosen"  # "@chosen": the paper's method, its free choices made on the development partition
VARIANT = "variant"  # "@variant": the best variant found on the development partition (not the paper's method)
TOKENS = (CHOSEN, VARIANT)
MAESI_SCORES = ("feature", "l2", "latent_norm")  # core.estimator.SCORES, without importing torch to check a name


def maesi_core(base: str) -> str:
    """'maesi-3pt-noreg' -> 'maesi-3pt': the interpolation a maesi base names."""
    return base[:-len(NOREG)] if base.endswith(NOREG) else base


def parse_method(name: str) -> tuple[str, dict]:
    """'maesi-3pt-noreg@lr=2e-3' -> ('maesi-3pt-noreg', {'lr': 0.002}); an alias resolves to its row
    ('iforest' -> ('pyod-iforest', {})). Raises ValueError for unknown names and settings."""
    base, *parts = name.split("@")
    base = ALIASES.get(base, base)
    if maesi_core(base) not in MAESI_BASES and base not in BASELINES:
        raise ValueError(f"unknown method {name!r}: choose from {', '.join(ABLATIONS + BASELINES)} (aliases: "
                         f"{', '.join(f'{a} = {b}' for a, b in ALIASES.items())}; maesi-* names may add "
                         f"@key=value settings)")
    if parts and base in BASELINES:
        raise ValueError(f"{name!r}: @settings are only for maesi-* methods")
    settings = {}
    for p in parts:
        if p in TOKENS:
            settings[p] = True
            continue
        key, sep, value = p.partition("=")
        if not sep or key not in VARIANT_KEYS:
            raise ValueError(f"{name!r}: setting {p!r} must be key=value with key in {sorted(VARIANT_KEYS)}, "
                             f"or one of {TOKENS}")
        try:
            settings[key] = VARIANT_KEYS[key](value)
        except ValueError:
            raise ValueError(f"{name!r}: setting {p!r} has a value of the wrong type") from None
    if settings.get("score", "feature") not in MAESI_SCORES:
        raise ValueError(f"{name!r}: score must be one of {MAESI_SCORES}")
    return base, settings


def is_maesi(method: str) -> bool:
    """A row of the paper's model: a maesi base (with or without R(E)), whatever its settings."""
    return maesi_core(parse_method(method)[0]) in MAESI_BASES


def is_twin(method: str) -> bool:
    """A maesi row scored by L2 reconstruction error: the name an L2 twin is reported under (`l2_twin`)."""
    return is_maesi(method) and parse_method(method)[1].get("score") == "l2"


def is_deep(method: str) -> bool:
    """True for rows that train a neural network (the maesi rows, ae-l2 and PyOD's deep detectors)."""
    return is_maesi(method) or parse_method(method)[0] in ("ae-l2", *DEEP_PEERS)


def resolved_settings(name: str, dataset: str | None = None) -> tuple[str, dict]:
    """parse_method(name) with "@chosen" / "@variant" replaced by the settings chosen on `dataset`'s development
    partition."""
    base, settings = parse_method(name)
    for token, read in ((CHOSEN, chosen_settings), (VARIANT, variant_settings)):
        if settings.pop(token, False):
            if dataset is None:
                raise ValueError(f"{name!r}: '@{token}' needs the dataset whose chosen settings to use")
            chosen = read(dataset)
            # settings written in the name win over the chosen ones
            settings = {**(parse_method("maesi-3pt@" + chosen)[1] if chosen else {}), **settings}
    return base, settings


def is_papers_method(method: str, dataset: str | None = None) -> bool:
    """A maesi row that is the paper's method (see the module's docstring). "@chosen" is by construction; with
    `dataset`, its chosen settings are read and checked too; "@variant" never is."""
    if not is_maesi(method):
        return False
    settings = parse_method(method)[1]
    if settings.get(VARIANT):
        return False
    if settings.get(CHOSEN) and dataset is not None:
        settings = resolved_settings(method, dataset)[1]
    return (settings.get("score", "feature") == "feature" and not settings.get("recon", 0)
            and settings.get("lrx", 1) == 1 and "lr" not in settings)


def l2_twin(method: str, dataset: str | None = None) -> str | None:
    """The name under which a maesi row's L2-scored twin (the same trained model) is reported; None for a row
    that is not maesi or is not scored by the feature score (given explicitly, or by `dataset`'s
    validation-chosen settings for an "@chosen" row): an L2 row's twin would repeat it."""
    if not is_maesi(method):
        return None
    settings = parse_method(method)[1]
    if (settings.get(CHOSEN) or settings.get(VARIANT)) and dataset is not None:
        settings = resolved_settings(method, dataset)[1]
    return None if settings.get("score", "feature") != "feature" else method + "@score=l2"
