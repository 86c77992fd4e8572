"""The ROC page's baselines (pure: no Streamlit): a readable label and a colour for every detector of
`core.evaluation.methods.BASELINES`, and the ones drawn by default.

The colours are disjoint from the models' (`app.shared.labels.INTERPOLATION_COLOURS`): a dashed baseline in the
orange of the 2-point model read as that model's twin."""
from __future__ import annotations

LABELS = {
    "pyod-iforest": "Isolation Forest",
    "pca": "PCA reconstruction",
    "ocsvm": "One-class SVM",
    "ae-l2": "L2 autoencoder",
    "pyod-knn": "k-nearest neighbours",
    "pyod-lof": "Local outlier factor",
    "pyod-ecod": "ECOD (empirical CDFs)",
    "pyod-autoencoder": "Autoencoder (PyOD)",
    "pyod-vae": "Variational autoencoder (PyOD)",
    "pyod-deepsvdd": "Deep SVDD",
    "mean-distance": "Distance to the training mean",
}
DEFAULT = ("pyod-iforest", "pca")
# Tableau and darker tones, none of them a model's grey, orange, green or purple (tests/test_lab_defects.py)
_PALETTE = ("#1f77b4", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#d62728", "#393b79", "#b8860b", "#006d77",
            "#000000", "#c51b7d")


def label(name: str) -> str:
    """"Isolation Forest" for "pyod-iforest"; a detector without a label keeps its id rather than vanish."""
    return LABELS.get(name, name)


def options(available) -> list[str]:
    """The detectors of `available` in the order of LABELS (the common ones first), then any unlabelled ones."""
    return [n for n in LABELS if n in available] + [n for n in available if n not in LABELS]


def colour(name: str, available) -> str:
    """A colour of the baselines' own palette, fixed per detector (its place in `options`), so that a curve keeps
    its colour whichever others are chosen."""
    return _PALETTE[options(available).index(name) % len(_PALETTE)]
