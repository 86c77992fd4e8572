"""The paper's published figures, copied by hand from the paper's text (Wu, Balaji, Vinzamuri, Feizi,
"Mirrored Autoencoders with Simplex Interpolation for Unsupervised Anomaly Detection").

These are the ONLY typed-in numbers of the evaluation package. Everything else in `results/` is measured by
`python -m core reproduce`. Each constant is one table of the paper, keyed by the method name exactly as printed;
`PAPER_METHOD` maps the printed name to the name of the matching row of our tables (where there is one) so the
rendered tables can put the published figure right under our measurement.

Notes on the transcription:
* Table 2, Thyroid, "3- Simplex (Ours)": the text prints only two numbers, 0.6875 and 0.7021 (precision and
  recall); the F1 score is missing from the paper's text. It is recorded as None, never filled in.
  (The harmonic mean of the two printed numbers would be 0.6947; it is NOT used anywhere.)
* Table 2 lists no Isolation Forest row for Thyroid, and lists PAE-GMM only for Thyroid.
* Table 1 columns are CIFAR-10 class names; `CIFAR10_CLASS_INDEX` maps them to the dataset's label ids.
* Table 3's "Ours" and Table 5's "Ours" are taken to be the 3-point model (the paper's main model).
"""
from __future__ import annotations

# ------------------------------------------------------------------ Table 1: CIFAR-10, AUC per anomaly class

TABLE1_CIFAR10_AUC: dict[str, dict[str, float]] = {
    # columns as printed: Bird Car Cat Deer Dog Frog Horse Plane Ship Truck Avg.
    "Fence GAN": dict(bird=0.67, car=0.71, cat=0.68, deer=0.75, dog=0.66, frog=0.79, horse=0.75, plane=0.51,
                      ship=0.52, truck=0.73, avg=0.68),
    "EGBAD": dict(bird=0.38, car=0.51, cat=0.44, deer=0.37, dog=0.48, frog=0.35, horse=0.52, plane=0.57,
                  ship=0.41, truck=0.56, avg=0.46),
    "Ano-GAN": dict(bird=0.41, car=0.49, cat=0.39, deer=0.33, dog=0.39, frog=0.32, horse=0.39, plane=0.52,
                    ship=0.57, truck=0.51, avg=0.43),
    "Skip-GANomaly": dict(bird=0.44, car=0.95, cat=0.60, deer=0.69, dog=0.61, frog=0.93, horse=0.78, plane=0.80,
                          ship=0.66, truck=0.91, avg=0.73),
    "2-point Interpolation": dict(bird=0.89, car=0.93, cat=0.98, deer=0.97, dog=0.83, frog=0.96, horse=0.97,
                                  plane=0.99, ship=0.99, truck=0.92, avg=0.94),
    "3-point Interpolation": dict(bird=0.910, car=0.969, cat=0.93, deer=0.99, dog=0.90, frog=0.99, horse=0.973,
                                  plane=0.99, ship=0.99, truck=0.970, avg=0.961),
}

# Table 1's column names -> CIFAR-10 label ids (airplane 0, automobile 1, bird 2, cat 3, deer 4, dog 5, frog 6,
# horse 7, ship 8, truck 9).
CIFAR10_CLASS_INDEX = {"plane": 0, "car": 1, "bird": 2, "cat": 3, "deer": 4, "dog": 5, "frog": 6, "horse": 7,
                       "ship": 8, "truck": 9}

# ------------------------------------------------------------------ Table 2: tabular data, precision/recall/F1

TABLE2_TABULAR_PRF: dict[str, dict[str, dict[str, float | None]]] = {
    "kdd99": {
        "IF": dict(precision=0.9216, recall=0.9373, f1=0.9294),
        "DSEBM-r": dict(precision=0.8521, recall=0.6472, f1=0.7328),
        "DSEBM-e": dict(precision=0.8619, recall=0.6446, f1=0.7399),
        "DAGMM": dict(precision=0.9297, recall=0.9442, f1=0.9369),
        "AnoGAN": dict(precision=0.8786, recall=0.8297, f1=0.8865),
        "ALAD": dict(precision=0.9427, recall=0.9577, f1=0.9501),
        "3- Simplex (Ours)": dict(precision=0.9527, recall=0.9677, f1=0.9601),
    },
    "arrhythmia": {
        "IF": dict(precision=0.5147, recall=0.5469, f1=0.5303),
        "DSEBM-r": dict(precision=0.1515, recall=0.1513, f1=0.1510),
        "DSEBM-e": dict(precision=0.4667, recall=0.4565, f1=0.4601),
        "DAGMM": dict(precision=0.4909, recall=0.5078, f1=0.4983),
        "AnoGAN": dict(precision=0.4118, recall=0.4375, f1=0.4242),
        "ALAD": dict(precision=0.5000, recall=0.5313, f1=0.5152),
        "3- Simplex (Ours)": dict(precision=0.5294, recall=0.5625, f1=0.5455),
    },
    "thyroid": {
        "PAE-GMM": dict(precision=0.4532, recall=0.4881, f1=0.4688),
        "DSEBM-r": dict(precision=0.0404, recall=0.0403, f1=0.0403),
        "DSEBM-e": dict(precision=0.1319, recall=0.1319, f1=0.1319),
        "DAGMM": dict(precision=0.4766, recall=0.4834, f1=0.4782),
        "ALAD": dict(precision=0.4583, recall=0.4681, f1=0.4632),
        # The paper's text prints only "0.6875 0.7021" for this row: the F1 is missing (None), not invented.
        "3- Simplex (Ours)": dict(precision=0.6875, recall=0.7021, f1=None),
    },
}

# ------------------------------------------------------------------ Table 3: MNIST, AUC per anomaly class

TABLE3_MNIST_AUC: dict[str, dict[int | str, float]] = {
    "Fence GAN": {0: 0.900, 1: 0.910, 2: 0.900, 3: 0.850, 4: 0.820, 5: 0.843, 6: 0.830, 7: 0.880, 8: 0.850,
                  9: 0.737, "avg": 0.852},
    "EGBAD": {0: 0.780, 1: 0.300, 2: 0.692, 3: 0.527, 4: 0.494, 5: 0.453, 6: 0.582, 7: 0.387, 8: 0.413,
              9: 0.525, "avg": 0.515},
    "Ano-GAN": {0: 0.620, 1: 0.492, 2: 0.399, 3: 0.335, 4: 0.393, 5: 0.321, 6: 0.399, 7: 0.516, 8: 0.567,
                9: 0.511, "avg": 0.455},
    "GANomaly": {0: 0.800, 1: 0.300, 2: 0.900, 3: 0.700, 4: 0.700, 5: 0.780, 6: 0.800, 7: 0.690, 8: 0.800,
                 9: 0.500, "avg": 0.697},
    "Ours": {0: 0.991, 1: 0.982, 2: 0.992, 3: 0.996, 4: 0.995, 5: 0.993, 6: 0.998, 7: 0.974, 8: 0.991,
             9: 0.899, "avg": 0.979},
}

# ------------------------------------------------------------------ Table 4: COIL-100, AUC and F1 per configuration
# Config 1: 1 inlier category, 50% outliers; Config 2: 4 categories, 25%; Config 3: 7 categories, 15%.

TABLE4_COIL100: dict[str, dict[str, dict[str, float]]] = {
    "REAPER": {"config1": dict(auc=0.900, f1=0.892), "config2": dict(auc=0.877, f1=0.703),
               "config3": dict(auc=0.824, f1=0.541)},
    "Outlier Pursuit": {"config1": dict(auc=0.908, f1=0.902), "config2": dict(auc=0.837, f1=0.686),
                        "config3": dict(auc=0.822, f1=0.528)},
    "DPCP": {"config1": dict(auc=0.900, f1=0.882), "config2": dict(auc=0.859, f1=0.684),
             "config3": dict(auc=0.804, f1=0.511)},
    "L_1 thresholding": {"config1": dict(auc=0.991, f1=0.978), "config2": dict(auc=0.992, f1=0.941),
                         "config3": dict(auc=0.991, f1=0.897)},
    "R-graph": {"config1": dict(auc=0.997, f1=0.990), "config2": dict(auc=0.996, f1=0.970),
                "config3": dict(auc=0.996, f1=0.955)},
    "GPND": {"config1": dict(auc=0.968, f1=0.979), "config2": dict(auc=0.945, f1=0.960),
             "config3": dict(auc=0.919, f1=0.941)},
    "Ours": {"config1": dict(auc=0.987, f1=0.993), "config2": dict(auc=0.971, f1=0.983),
             "config3": dict(auc=0.977, f1=0.986)},
}

# ------------------------------------------------------------------ Table 5: Fashion-MNIST one-class, mean AUC

TABLE5_FMNIST_MEAN_AUC: dict[str, float] = {
    "ALOCC DR": 0.88,
    "ALOCC D": 0.82,
    "DCAE": 0.899,
    "GPND": 0.932,
    "OCGAN": 0.977,
    "Ours": 0.994,
}

# ------------------------------------------------------------------ printed name -> our method name

PAPER_METHOD = {
    "3-point Interpolation": "maesi-3pt",
    "2-point Interpolation": "maesi-2pt",
    "3- Simplex (Ours)": "maesi-3pt",
    "Ours": "maesi-3pt",
    "IF": "pyod-iforest",
}


def paper_rows(experiment: str) -> list[dict]:
    """The published figures of one experiment as tidy rows (dataset, anomaly_class, method, seed, metric,
    value) with method ``paper:<name>`` (our name where `PAPER_METHOD` has one, else the printed name) and an
    empty seed. A missing figure (value None) is kept as a row with an empty value, so tables can say so."""
    rows: list[dict] = []

    def add(dataset, klass, printed, metric, value):
        rows.append(dict(dataset=dataset, anomaly_class="" if klass is None else str(klass),
                         method="paper:" + PAPER_METHOD.get(printed, printed), seed="", metric=metric, value=value))

    if experiment == "tabular":
        for dataset, table in TABLE2_TABULAR_PRF.items():
            for printed, vals in table.items():
                for metric, value in vals.items():
                    add(dataset, None, printed, metric, value)
    elif experiment == "mnist":
        for printed, vals in TABLE3_MNIST_AUC.items():
            for klass, value in vals.items():
                add("mnist", "mean" if klass == "avg" else klass, printed, "auc", value)
    elif experiment in ("cifar10", "ablation"):
        for printed, vals in TABLE1_CIFAR10_AUC.items():
            if experiment == "ablation" and printed not in ("2-point Interpolation", "3-point Interpolation"):
                continue
            for name, value in vals.items():
                add("cifar10", "mean" if name == "avg" else CIFAR10_CLASS_INDEX[name], printed, "auc", value)
    elif experiment == "fashion_mnist":
        for printed, value in TABLE5_FMNIST_MEAN_AUC.items():
            add("fashion_mnist", "mean", printed, "auc", value)
    elif experiment == "coil100":
        for printed, configs in TABLE4_COIL100.items():
            for config, vals in configs.items():
                for metric, value in vals.items():
                    add("coil100", config, printed, metric, value)
    return rows


# How each of our row names is printed in each experiment's table of the paper (for the rendered tables).
PRINTED_NAME = {
    "tabular": {"maesi-3pt": "3- Simplex (Ours)", "pyod-iforest": "IF"},
    "mnist": {"maesi-3pt": "Ours"},
    "fashion_mnist": {"maesi-3pt": "Ours"},
    "coil100": {"maesi-3pt": "Ours"},
    "cifar10": {"maesi-3pt": "3-point Interpolation", "maesi-2pt": "2-point Interpolation"},
    "ablation": {"maesi-3pt": "3-point Interpolation", "maesi-2pt": "2-point Interpolation"},
}

# Decimals the paper prints in each table (Table 1 mixes 2 and 3 decimals: its values are shown as stored).
DECIMALS = {"tabular": 4, "mnist": 3, "coil100": 3}


def format_value(experiment: str, value) -> str:
    """A published figure as the paper prints it."""
    d = DECIMALS.get(experiment)
    return f"{float(value):.{d}f}" if d else f"{float(value):g}"
