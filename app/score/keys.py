"""The Score page's session-state and widget keys, declared once (AppTest finds the widgets by them)."""

MODEL = "score_model"  # the scoring checkpoint's path
FILES = "score_files"
POLARITY = "score_polarity"  # 1-channel images: auto, as is, invert
EXAMPLES = "score_examples"
PROBLEMS_CSV = "score_problems_csv"
RESULTS_CSV = "score_csv"
RESULT = "score_result"  # the ranked results table, recorded for tests
