"""The Simplex explorer's session-state and widget keys, declared once (the page, its panels and `state` use
these names; AppTest and the browser tests find the widgets by them)."""

# choosing the models and the anchors
VIEW = "sx_view"  # "compare" (every selected model) or "one"
MODEL = "sx_model"  # the one model's checkpoint path
ANCHOR_COUNT = "sx_m"  # m = 2 or 3
ANCHOR_SOURCE = "sx_source"
ANCHOR_SEED = "sx_seed"  # bumped by the shuffle buttons: the next random draw of anchors
SHUFFLE = "sx_shuffle"
SHUFFLE_CLASS = "sx_shuffle_class"
ONLY_NORMAL = "sx_only_normal"


def anchor_class(i: int) -> str:
    return f"sx_class{i}"


def anchor_index(i: int) -> str:
    return f"sx_idx{i}"


# the weights: one exact vector of which the draggable simplex, the sliders and clickable charts are views (`state`)
WEIGHTS = "sx_weights"
WEIGHTS_COUNT = "_sx_m"  # the m the weights were made for
PICK_REVISION = "sx_pick_rev"  # bumped by every weight change: clickable charts get a fresh key
DRAG_REVISION = "sx_drag_rev"  # bumped by every weight change but the draggable simplex's own: it adopts them


PREVIEWS = "sx_previews"  # the draggable simplex's previews (a custom component)


def drag(m: int) -> str:
    """The draggable simplex (a custom component) for m anchors; its session value holds the weights it sent."""
    return f"sx_drag{m}"


def weight_slider(i: int) -> str:
    return f"sx_w{i}"


# the lazy tabs below the interpolant (only the open one runs: `display.lazy_tabs`), and (at the end) the widget
# values kept while their tab is closed
TAB = "simplex_tab"
TAB_WHOLE, TAB_MOSAIC, TAB_EDGES, TAB_MOTION = ("The whole simplex", "Decoded mosaic", "Along the edges",
                                                "Edges in motion")

# the panels' widgets, charts and containers
FIELD = "sx_field"  # the heat maps' readout field
EDGE = "sx_pair"  # tabular models: the edge whose decoded features are drawn
MAP = "sx_map"
TERNARY = "sx_ternary"  # the one model's clickable heat map (with the pick revision)
DECODED = "sx_decoded"  # the one model's decoded image
BARS = "sx_bars"


def decoded(i: int) -> str:
    """The container of the i-th compared model's decoded image."""
    return f"sx_decoded-{i}"


def bars(i: int) -> str:
    return f"sx_bars-{i}"


def heat_map(i: int) -> str:
    return f"sx_heat-{i}"


def mosaic(i: int) -> str:
    return f"sx_mosaic-{i}"


def strip(i: int) -> str:
    return f"sx_strip-{i}"


# what the interpolant fragment records for tests and benchmarks
READOUTS = "simplex_compare"  # {checkpoint path: {"decoded", "score", "d_inter"}} of the current weights
FRAGMENT_MS = "simplex_ms"  # milliseconds from a weight change to the decoded images


# edges in motion (`app/simplex/edges.py`): the edge, the number of frames, the speed, the downloads
MOTION_EDGE = "sx_motion_edge"
MOTION_FRAMES = "sx_motion_frames"
MOTION_DURATION = "sx_motion_ms"
MOTION_GIF = "sx_motion_gif"  # the download buttons
MOTION_PNG = "sx_motion_png"
MOTION_PLAYER = "sx_motion_player"  # the container of the animated GIF shown in the page
MOTION_SIZES = "sx_motion_sizes"  # {"frames", "models", "gif_bytes", "png_bytes"} of the last assembly, for tests

KEPT_ACROSS_TABS = {TAB_WHOLE: (FIELD,), TAB_EDGES: (EDGE,), TAB_MOTION: (MOTION_EDGE, MOTION_FRAMES, MOTION_DURATION)}
