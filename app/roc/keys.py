"""The ROC page's session-state and widget keys, declared once (AppTest finds the widgets by them)."""

# the page's lazy tabs (only the open one runs: `display.lazy_tabs`)
TAB = "roc_tab"
TAB_ROC, TAB_PER_CLASS, TAB_THRESHOLD = "ROC curves", "Per class", "Threshold and samples (Fig. 4)"

SCORE = "roc_score"  # the models' anomaly score: feature, l2 or latent_norm
BASELINES = "roc_baselines"
ROC_CHART = "roc"
AUC_TABLE = "auc_table"
AUC_TABLE_CSV = "auc-table-csv"
AUC_BARS = "auc_bars"
THRESHOLD_MODEL = "thr_model"
THRESHOLD_RESULT = "thr_result"  # precision, recall, F1 and counts at the chosen threshold, recorded for tests
HISTOGRAM = "hist"
GALLERY_SIZE = "gal_n"  # samples per side of Fig. 4's gallery
GALLERY_CHOICE = "gal_how"  # random, most typical or most surprising
GALLERY_SAMPLE = "gal_tab"  # tabular data: the sample whose reconstruction is drawn
GALLERY_BARS = "gal_bars"


def threshold(model_name: str) -> str:
    """The threshold slider of one model: each model keeps its own threshold."""
    return f"thr-{model_name}"


# the widget values kept while their tab is closed (the threshold sliders by their prefix, `threshold`)
KEPT_ACROSS_TABS = {TAB_ROC: (SCORE, BASELINES),
                    TAB_THRESHOLD: (THRESHOLD_MODEL, GALLERY_SIZE, GALLERY_CHOICE, GALLERY_SAMPLE, threshold(""))}
