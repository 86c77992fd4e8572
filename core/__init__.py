"""maesi: Mirrored Adversarial Encoders with Simplex Interpolation (Wu, Balaji, Vinzamuri, Feizi).

Layers point downwards: data -> networks -> method (losses, train, model) -> evaluation -> CLI and app.
"""
__version__ = "0.1.0"

from .config import PRESETS, Config, make_config  # noqa: E402
from .model import MirroredAE, resolve_device  # noqa: E402

__all__ = ["MirroredAE", "PRESETS", "Config", "make_config", "resolve_device", "__version__"]
