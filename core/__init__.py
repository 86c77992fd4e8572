"""maesi: Mirrored Adversarial Encoders with Simplex Interpolation (Wu, Balaji, Vinzamuri, Feizi).

Layers point downwards (tests/test_layers.py): data -> method (config, networks, losses of Eqs. 1-5, scores) ->
checkpoints -> training (the supplementary algorithm, model selection) -> estimator (`MirroredAE`) -> evaluation
-> CLI (`python -m core`) -> app.
"""
from core.version import __version__  # noqa: E402

from core.method.config import PRESETS, Config, make_config  # noqa: E402
from core.estimator import MirroredAE, resolve_device  # noqa: E402

__all__ = ["MirroredAE", "PRESETS", "Config", "make_config", "resolve_device", "__version__"]
