"""The Models page's session-state and widget keys, declared once (the sections and the training panel use these
names; AppTest finds the widgets by them). The sidebar's model selection and the one-run notice it may set are
`app.shared.keys.MODELS` and `FLASH`."""

# the page's tabs (lazy: only the open tab's sections run)
TAB = "models_tab"
TABS = ("Checkpoints", "Train a model", "Your data", "Upload a checkpoint")

# the checkpoint table and the picked checkpoint
SCOPE = "models_scope"  # which checkpoints the table lists
SCOPE_FOR = "_models_scope_for"  # the sidebar's dataset the scope was chosen for
TABLE = "models_table"
PICK = "models_pick"  # the picked checkpoint's label (`table.pick_label`)
PICK_NEXT = "_models_pick_next"  # a label to pick on the next run (a stored upload), over the sidebar's
PICK_FOLLOWS = "_models_pick_follows"  # the sidebar's selection the pick last followed
CLICKED_ROW = "_models_row"  # (scope, row) of the last row click, so that one click picks once
USE = "models_use"
LOSSES_CHART = "models_losses"
HEALTH_CHART = "models_health"
HISTORY_CSV = "models_history_csv"

# managing one's own runs
DOWNLOAD = "models_download"
RENAME_TO = "models_rename_to"
RENAME = "models_rename"
DELETE = "models_delete"
DELETE_CONFIRM = "models_delete_confirm"
DELETE_CANCEL = "models_delete_cancel"
CONFIRMING_DELETE = "_models_confirm_delete"  # the path whose deletion awaits a confirmation
MANAGE_ERROR = "_models_manage_error"  # a callback's failure, shown on the next run
SKIPPED_DELETE = "models_skipped_delete"
SKIPPED_CONFIRM = "models_skipped_confirm"
SKIPPED_CANCEL = "models_skipped_cancel"
CONFIRMING_SKIPPED = "_models_confirm_skipped"  # the broken files whose deletion awaits a confirmation
UPLOAD = "models_upload"
ADD_UPLOAD = "models_add"

# the training form
TRAIN_DATASET = "train_dataset"
TRAIN_CLASS = "train_class"
TRAIN_INTERPOLATION = "train_m"
TRAIN_PROFILE = "train_profile"
TRAIN_PRESET = "train_preset"
TRAIN_PRESET_FOR = "_train_for"  # the dataset the preset was chosen for
TRAIN_DEFAULTS_FOR = "_train_defaults_for"  # (preset, profile) whose defaults fill the form
TRAIN_LR = "train_lr"
TRAIN_BATCH = "train_batch"
TRAIN_EPOCHS = "train_epochs"
TRAIN_LAM = "train_lam"
TRAIN_RECON = "train_recon"
TRAIN_SCALING = "train_scaling"
TRAIN_SCALING_IMAGES = "train_scaling_images"  # a disabled box: images have one scaling
TRAIN_SEED = "train_seed"
TRAIN_MAX = "train_max"
TRAIN_DEVICE = "train_device"
TRAIN_THREADS = "train_threads"  # the job's CPU threads (torch.set_num_threads in its worker)
TRAIN_START = "train_start"
TRAIN_RECALLED = "_train_recalled"  # this session has refilled the form from the browser's last submitted one

# the jobs panel
ANNOUNCED = "_announced"  # ids of finished jobs whose run the page has already reloaded for


def job_losses(job_id: int) -> str:
    return f"job-{job_id}-losses"


def job_stop(job_id: int) -> str:
    return f"stop-{job_id}"

# your own data (app/models/your_data.py)
OWN_UPLOAD = "own_upload"
OWN_NAME = "own_name"
OWN_NORMAL = "own_normal_dir"
OWN_LABEL = "own_label_column"
OWN_RATIO = "own_normal_test_ratio"
OWN_ADD = "own_add"
OWN_ERROR = "_own_error"  # the last add's failure, shown until the next try
TRAIN_CONTAMINATION = "train_contamination"

# the form's values a reload refills (app/models/form_memory.py), the widgets' keys
REMEMBERED_FORM = (TRAIN_DATASET, TRAIN_CLASS, TRAIN_INTERPOLATION, TRAIN_PROFILE, TRAIN_PRESET, TRAIN_LR, TRAIN_BATCH,
                   TRAIN_EPOCHS, TRAIN_LAM, TRAIN_RECON, TRAIN_SCALING, TRAIN_SEED, TRAIN_MAX, TRAIN_DEVICE,
                   TRAIN_THREADS, TRAIN_CONTAMINATION)

# the widget values kept while their tab is closed (`display.lazy_tabs`)
KEPT_ACROSS_TABS = {TABS[1]: REMEMBERED_FORM, TABS[2]: (OWN_NAME, OWN_NORMAL, OWN_LABEL, OWN_RATIO)}
