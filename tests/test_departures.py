"""`core.method.config.departures`: what a setting's label says about the paper. The paper is credited only with
values it prints; a value it does not print is the library's or a profile's choice; every override of a profile's
value is listed (issue 18, "truthful departures")."""
import dataclasses

import pytest

from core.method.config import CHOICES, PROFILES, TABULAR_SCALINGS, Config, make_config
from core.method.departures import NOT_IN_PAPER, PAPER_PRINTS, departures

SKIPPED = {"preset", "profile", "input_range", "interpolation"}  # named by the row itself, or the data's
FIELDS = [f.name for f in dataclasses.fields(Config) if f.name not in SKIPPED]


def _other(cfg: Config, name: str, avoid: set):
    """A valid value of `name` that is none of `avoid`."""
    value = getattr(cfg, name)
    if name.startswith("opt_"):
        return dataclasses.replace(value, lr=value.lr * 3)
    if name == "arch":
        return dataclasses.replace(value, latent_dim=value.latent_dim + 1)
    if name == "scaling":
        return next(v for v in TABULAR_SCALINGS if v not in avoid)
    if name in CHOICES:  # two choices: under the authors profile the other one is the paper's
        return next((v for v in CHOICES[name] if v not in avoid), next(v for v in CHOICES[name] if v != value))
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return max(avoid | {value}) + 1
    return round(max(avoid | {value}) * 0.5 + 0.05, 4) if name == "selection_start" else max(avoid | {value}) + 0.25


@pytest.mark.parametrize("profile", list(PROFILES))
def test_a_profile_as_it_is_lists_only_the_profile(profile):
    for preset in ("kdd99", "mnist", "cifar10", "thyroid"):
        expected = [] if profile == "paper" else [f"profile {profile} (the authors' public code, not the paper's text)"]
        assert departures(make_config(preset, profile=profile)) == expected, preset


@pytest.mark.parametrize("profile", list(PROFILES))
@pytest.mark.parametrize("name", FIELDS)
def test_every_overridden_field_is_listed_once_with_whose_value_it_replaces(profile, name):
    base = make_config("kdd99", profile=profile)
    paper = make_config("kdd99", profile="paper")
    value = _other(base, name, {getattr(base, name), getattr(paper, name)})
    lines = [line for line in departures(make_config("kdd99", profile=profile, **{name: value}))
             if not line.startswith("profile ")]
    assert len(lines) == 1, lines
    line = lines[0]
    if name.startswith("opt_"):
        assert line.startswith(f"{name[4:]} lr ") and "(the paper: " in line
    elif name in PAPER_PRINTS and value == getattr(paper, name):
        assert line == f"{name} {value} (the {profile} profile: {getattr(base, name)}; the paper's value)"
    elif name in PAPER_PRINTS:
        assert line.startswith(f"{name} ") and f"(the paper: {getattr(paper, name)})" in line
    elif name in NOT_IN_PAPER:
        assert line == f"{name} {value} (not in the paper)"
    elif profile != "paper" and name in PROFILES[profile]:
        assert line == f"{name} {value} (the {profile} profile: {PROFILES[profile][name]}; the paper prints none)"
    else:
        assert line == f"{name} {value} (library default {getattr(base, name)}; the paper prints none)"
    assert "the paper: " not in line or name in PAPER_PRINTS  # never a value the paper does not print


def test_values_the_paper_does_not_print_are_never_credited_to_it():
    cfg = make_config("kdd99", profile="paper", gp_weight=5.0, acai_gamma=0.5, selection_start=0.0,
                      selection_max_samples=100)
    assert departures(cfg) == ["gp_weight 5.0 (library default 10.0; the paper prints none)",
                               "acai_gamma 0.5 (library default 0.2; the paper prints none)",
                               "selection_start 0.0 (library default 0.6; the paper prints none)",
                               "selection_max_samples 100 (library default 4096; the paper prints none)"]
    assert departures(make_config("kdd99", profile="paper", critic_steps=5)) == [
        "critic_steps 5 (library default 1; the paper prints none)"]


def test_an_override_of_a_profile_value_is_listed_even_when_it_is_the_papers():
    notes = departures(make_config("kdd99", profile="authors", critic_steps=1, inter_reduction="sum"))
    assert "critic_steps 1 (the authors profile: 5; the paper prints none)" in notes
    assert "inter_reduction sum (the authors profile: mean; the paper's value)" in notes
