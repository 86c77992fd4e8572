"""`departures(cfg)`: the settings of a config that are not the paper's text, in words, as every report row, CLI
print and app badge shows them. The paper is credited only with the values it prints."""
from __future__ import annotations

import dataclasses

from core.method.config import PAPER_PRESETS, PRESETS, PROFILES, Config

__all__ = ["departures", "PAPER_PRINTS", "NOT_IN_PAPER"]


def departures(cfg: Config) -> list[str]:
    """The settings of `cfg` that are not the paper's text, in words: the label every report row, CLI print and app
    badge carries. Empty = the paper's setting. Three kinds of field:

    * printed by the paper (PAPER_PRINTS: its tables' epochs, batch, lambda, optimisers, networks; Eq. 3's sum):
      "lam 0.2 (the paper: 0.5)";
    * not printed (every other setting): the paper gives no value, so none is credited to it. A value other than
      the profile's is listed: "critic_steps 3 (library default 1; the paper prints none)", or under another
      profile "critic_steps 1 (the authors profile: 5; the paper prints none)";
    * not in the paper at all (NOT_IN_PAPER: the reconstruction term): "recon_weight 1 (not in the paper)"."""
    preset = PRESETS[cfg.preset]
    library = {f.name: getattr(preset, f.name) for f in dataclasses.fields(Config)}  # the preset's own choices
    profile = {**library, **PROFILES["paper"], **PROFILES[cfg.profile]}
    out = []
    if cfg.preset not in PAPER_PRESETS:
        out.append(f"preset {cfg.preset} (not in the paper)")
    if cfg.profile != "paper":
        out.append(f"profile {cfg.profile} (the authors' public code, not the paper's text)")
    out += _printed_departures(cfg, preset)
    for f in dataclasses.fields(Config):
        name, ours = f.name, getattr(cfg, f.name)
        if name in PAPER_PRINTS or name in ("preset", "profile", "input_range", "interpolation"):
            continue
        if name in NOT_IN_PAPER:
            if ours != library[name]:
                out.append(f"{name} {ours} (not in the paper)")
        elif ours != profile[name]:
            whose = (f"the {cfg.profile} profile: {profile[name]}" if name in PROFILES[cfg.profile]
                     and cfg.profile != "paper" else f"library default {profile[name]}")
            out.append(f"{name} {ours} ({whose}; the paper prints none)")
    return out


def _printed_departures(cfg: Config, paper: Config) -> list[str]:
    """The fields the paper prints a value for, against the paper's preset (one "lr" line when all three match)."""
    out = []
    lrs = {(getattr(cfg, n).lr, getattr(paper, n).lr) for n in ("opt_encoder", "opt_generator", "opt_critic")}
    same_lr = len(lrs) == 1
    if same_lr and next(iter(lrs))[0] != next(iter(lrs))[1]:
        ours, theirs = next(iter(lrs))
        out.append(f"lr {ours:g} (the paper: {theirs:g})")
    for name in sorted(PAPER_PRINTS, key=[f.name for f in dataclasses.fields(Config)].index):
        ours, theirs = getattr(cfg, name), getattr(paper, name)
        profile_value = PROFILES[cfg.profile].get(name, theirs) if cfg.profile != "paper" else theirs
        if ours == theirs and profile_value != ours:  # back to the paper's value under another profile
            out.append(f"{name} {ours} (the {cfg.profile} profile: {profile_value}; the paper's value)")
        if ours == theirs or ours == profile_value:  # a profile's own value: its "profile ..." line says so
            continue
        if name.startswith("opt_"):
            if not same_lr and ours.lr != theirs.lr:
                out.append(f"{name[4:]} lr {ours.lr:g} (the paper: {theirs.lr:g})")
            if ours.name != theirs.name or tuple(ours.betas) != tuple(theirs.betas) or ours.momentum != theirs.momentum:
                out.append(f"{name[4:]} optimizer {ours.name} {tuple(ours.betas)} (not the paper's)")
            continue
        out.append(f"{name} {ours} (the paper: {theirs})")
    return out


# What the paper prints a value for (its tables, Eq. 3's sum over anchors, the latent regulariser of the
# supplementary algorithm); every other Config setting is the library's or a profile's choice.
PAPER_PRINTS = {"arch", "epochs", "batch_size", "lam", "opt_encoder", "opt_generator", "opt_critic", "inter_reduction",
                "latent_reg"}
# Settings that are not in the paper at all: any value but the library default is labelled so.
NOT_IN_PAPER = {"recon_weight"}
