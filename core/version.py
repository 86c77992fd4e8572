"""The library's version, at the bottom of every layer (checkpoints record it)."""
__version__ = "0.1.0"
