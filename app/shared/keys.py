"""The session-state keys of the entry script, the shared sidebar and the shared helpers, declared once. A page
reads the sidebar's choices through its context (`sidebar.context()`); it names these keys only to set a choice
from a button callback, or to hand a value to another page (`MAP_SELECTION`). Each page package declares its
own keys in its `keys.py`."""

# The sidebar's widgets (AppTest and links see these names; ?dataset= and ?class= preselect the first two).
DATASET = "dataset"
ANOMALY_CLASS = "anomaly_class"
MODELS = "models"  # the compared checkpoints' paths
QUERY_DATASET, QUERY_CLASS = "dataset", "class"  # a link's query parameters

# What the sidebar remembers between reruns.
CLASS_FOR = "_class_for"  # the dataset whose class the class box holds
MODELS_FOR = "_models_for"  # (dataset, class) the model selection belongs to

CONTEXT = "_ctx"  # the page context the entry script built for this run
FLASH = "flash"  # a one-run notice (shown as a toast), set by button callbacks before a rerun
OWNER = "_owner"  # this browser's owner token for training jobs (app/shared/owner.py)
OWNER_WRITTEN = "_owner_written"  # the token the page last wrote into the browser's cookie

# The Latent map's selection {"dataset", "anomaly_class", "indices"}: the Simplex explorer's anchors may come from it.
MAP_SELECTION = "map_selected"
