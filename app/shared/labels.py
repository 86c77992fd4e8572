"""How the lab names and colours what several pages show (pure: no Streamlit): an interpolation's label and
colour, and the natural order of class names ("2" before "10")."""
from __future__ import annotations

INTERPOLATION_LABELS = {0: "no interpolation", 2: "2-point simplex", 3: "3-point simplex", "acai": "ACAI"}
INTERPOLATION_COLOURS = {0: "#7f7f7f", 2: "#ff7f0e", 3: "#2ca02c", "acai": "#9467bd"}


def interpolation_label(m) -> str:
    """"no interpolation", "2-point simplex", "3-point simplex", "ACAI" (or "m-point simplex" for another m)."""
    return INTERPOLATION_LABELS.get(m, f"{m}-point simplex")


def natural_key(name: str) -> tuple:
    """Sort key of class names: integers by value, before any other name, which sorts as text."""
    return (0, int(name), name) if name.lstrip("-").isdigit() else (1, 0, name)
