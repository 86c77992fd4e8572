"""The Latent map's session-state and widget keys, declared once (the page and its panels use these names;
AppTest finds the widgets by them). The selection the map hands to the Simplex explorer is
`app.shared.keys.MAP_SELECTION`."""

METHOD = "map_method"  # PCA, t-SNE or UMAP
COLOUR = "map_colour"
SAMPLE_SIZE = "map_n"
K = "map_k"  # the k of the k-NN separation figure
ZOOM = "map_zoom"
INSPECTED = "map_inspect"  # the sample the inspector shows, among several selected
INSPECTED_BARS = "map_inspect_bars"
INSPECTED_IMAGE = "map_inspect_image"


def map_chart(i: int, name: str) -> str:
    """The i-th map (of the checkpoint `name`): its selection state arrives under this key."""
    return f"map-{i}-{name}"


def separation(i: int) -> str:
    """The i-th map's separation figures, recorded for tests: {"knn_auc", "silhouette", "model_auc"}."""
    return f"map_separation-{i}"


def timeline_chart(i: int, name: str) -> str:
    return f"map_timeline-{i}-{name}"


def timeline_silhouette_chart(i: int, name: str) -> str:
    return f"map_timeline_sil-{i}-{name}"


ANCHORS = "map_anchors"  # which selected points become the Simplex explorer's anchors, in their order
ANCHORS_DEFAULT = "_map_anchors_default"  # the first points of the selection, offered until the user chooses
HAND_OVER = "map_hand_over"  # the button that hands them over (through `app.shared.keys.MAP_SELECTION`)
NEIGHBOURS_K = 8  # nearest neighbours listed for the clicked point


def samples_store(store: str) -> str:
    """The component that holds the samples (thumbnails or feature bars) of a map's points."""
    return f"map_samples-{store}"


def neighbours(i: int) -> str:
    """The container of the i-th map's nearest-neighbour list."""
    return f"map_neighbours-{i}"
