"""Encoder E, generator G and the two critics, for the three families of the supplementary tables.

Critics take a pair (x, y), concatenated along dim 1: channels for images (N, C, H, W), features for
vectors (N, F). `Critic.features` is the penultimate layer f(x, y) that the anomaly score of Section 5.2 reads;
the head is one linear layer on top of it.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from core.method.config import ArchConfig, Config


def lrelu() -> nn.Module:
    return nn.LeakyReLU(0.2)


class Critic(nn.Module):
    """D(x_1, ..., x_k) = head(body(cat(x_1, ..., x_k))). D_recon and the simplex D_inter take pairs;
    the ACAI critic of Eq. 1 takes a single input."""

    def __init__(self, body: nn.Module, head: nn.Module):
        super().__init__()
        self.body, self.head = body, head

    def features(self, *xs: torch.Tensor) -> torch.Tensor:
        return self.body(torch.cat(xs, dim=1) if len(xs) > 1 else xs[0])

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(*xs)).squeeze(1)


@dataclass
class Networks:
    encoder: nn.Module
    generator: nn.Module
    d_recon: Critic
    d_inter: Critic | None  # None without interpolation

    def modules(self) -> dict[str, nn.Module]:
        mods = {"encoder": self.encoder, "generator": self.generator, "d_recon": self.d_recon}
        if self.d_inter is not None:
            mods["d_inter"] = self.d_inter
        return mods

    def to(self, device) -> "Networks":
        for m in self.modules().values():
            m.to(device)
        return self

    def train(self, mode: bool = True) -> None:
        for m in self.modules().values():
            m.train(mode)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {f"{name}.{k}": v for name, m in self.modules().items() for k, v in m.state_dict().items()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        for name, m in self.modules().items():
            prefix = f"{name}."
            m.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)})


def _apply_spectral_norm(module: nn.Module) -> nn.Module:
    for name, child in module.named_children():
        if isinstance(child, (nn.Linear, nn.Conv2d)):
            setattr(module, name, spectral_norm(child))
        else:
            _apply_spectral_norm(child)
    return module


# ---------------------------------------------------------------- tabular (Tables 3, 4, 5)

def _mlp(sizes: list[int], act, last_act: bool) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2 or last_act:
            layers.append(act())
    return nn.Sequential(*layers)


def _mlp_critic(in_features: int, hidden: tuple, act) -> Critic:
    return Critic(_mlp([in_features, *hidden], act, last_act=True), nn.Linear(hidden[-1], 1))


def build_mlp(arch: ArchConfig, n_features: int, inter_inputs: int) -> Networks:
    d = arch.latent_dim
    # The tables end the encoder with a LeakyReLU too ("Linear(64,32) + leakyrelu"); kept as written.
    encoder = _mlp([n_features, *arch.encoder_hidden, d], lrelu, last_act=True)
    generator = _mlp([d, *arch.generator_hidden, n_features], nn.ReLU, last_act=False)
    d_recon = _mlp_critic(2 * n_features, arch.d_recon_hidden, lrelu)
    inter_act = nn.ReLU if arch.d_inter_activation == "relu" else lrelu
    d_inter = _mlp_critic(inter_inputs * n_features, arch.d_inter_hidden, inter_act) if inter_inputs else None
    return Networks(encoder, generator, d_recon, d_inter)


# ---------------------------------------------------------------- MNIST family (Table 2)

def build_conv(arch: ArchConfig, shape: tuple, inter_inputs: int) -> Networks:
    """Table 2: two stride-2 4x4 convolutions, a dense layer, and the mirror image for G. The table's
    padding "2" is TensorFlow's "same" for these layers (28 -> 14 -> 7), i.e. padding 1 here."""
    c, h, w = shape
    if h % 4 or w % 4:
        raise ValueError(f"the conv presets need image sides divisible by 4, got {h}x{w}")
    c1, c2 = arch.channels
    flat = c2 * (h // 4) * (w // 4)

    def body(in_ch: int) -> nn.Sequential:
        return nn.Sequential(
            nn.Conv2d(in_ch, c1, 4, 2, 1), lrelu(),
            nn.Conv2d(c1, c2, 4, 2, 1), lrelu(),
            nn.Flatten(), nn.Linear(flat, arch.dense), lrelu(),
        )

    encoder = nn.Sequential(body(c), nn.Linear(arch.dense, arch.latent_dim))
    generator = nn.Sequential(
        nn.Linear(arch.latent_dim, arch.dense), nn.ReLU(),
        nn.Linear(arch.dense, flat), nn.ReLU(),
        nn.Unflatten(1, (c2, h // 4, w // 4)),
        nn.ConvTranspose2d(c2, c1, 4, 2, 1), nn.ReLU(),
        nn.ConvTranspose2d(c1, c, 4, 2, 1), nn.Tanh(),
    )
    d_recon = Critic(body(2 * c), nn.Linear(arch.dense, 1))
    d_inter = Critic(body(inter_inputs * c), nn.Linear(arch.dense, 1)) if inter_inputs else None
    return Networks(encoder, generator, d_recon, d_inter)


# ---------------------------------------------------------------- CIFAR-10 family (Table 1)

class GBlock(nn.Module):
    """Miyato et al.'s generator ResBlock: BN-ReLU-up-conv3-BN-ReLU-conv3, shortcut up-conv1."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.residual = nn.Sequential(
            nn.BatchNorm2d(cin), nn.ReLU(), nn.Upsample(scale_factor=2),
            nn.Conv2d(cin, cout, 3, 1, 1), nn.BatchNorm2d(cout), nn.ReLU(), nn.Conv2d(cout, cout, 3, 1, 1),
        )
        self.shortcut = nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(cin, cout, 1))

    def forward(self, x):
        return self.residual(x) + self.shortcut(x)


class DBlock(nn.Module):
    """Miyato et al.'s critic ResBlock (no BN). `first` is the optimised input block without a leading ReLU."""

    def __init__(self, cin: int, cout: int, down: bool, first: bool = False):
        super().__init__()
        layers = [] if first else [nn.ReLU()]
        layers += [nn.Conv2d(cin, cout, 3, 1, 1), nn.ReLU(), nn.Conv2d(cout, cout, 3, 1, 1)]
        if down:
            layers.append(nn.AvgPool2d(2))
        self.residual = nn.Sequential(*layers)
        short: list[nn.Module] = []
        if first and down:
            short = [nn.AvgPool2d(2), nn.Conv2d(cin, cout, 1)]
        elif down or cin != cout:
            short = [nn.Conv2d(cin, cout, 1)] + ([nn.AvgPool2d(2)] if down else [])
        self.shortcut = nn.Sequential(*short)

    def forward(self, x):
        return self.residual(x) + self.shortcut(x)


class GlobalPool(nn.Module):
    def __init__(self, mode: str):
        super().__init__()
        self.mode = mode

    def forward(self, x):
        return x.sum(dim=(2, 3)) if self.mode == "sum" else x.mean(dim=(2, 3))


def build_resnet(arch: ArchConfig, shape: tuple, inter_inputs: int) -> Networks:
    c, h, w = shape
    if h != w or h % 8:
        raise ValueError(f"the cifar10 preset needs square images with sides divisible by 8, got {h}x{w}")
    base, g, dc = h // 8, arch.g_channels, arch.d_channels
    e1, e2, e3 = arch.encoder_channels
    encoder = nn.Sequential(
        nn.Conv2d(c, e1, 4, 2, 1), nn.BatchNorm2d(e1), lrelu(),
        nn.Conv2d(e1, e2, 4, 2, 1), nn.BatchNorm2d(e2), lrelu(),
        nn.Conv2d(e2, e3, 4, 2, 1), nn.BatchNorm2d(e3), lrelu(),
        nn.Conv2d(e3, arch.latent_dim, base, 1, 0), nn.Flatten(),
    )
    generator = nn.Sequential(
        nn.Linear(arch.latent_dim, base * base * g), nn.Unflatten(1, (g, base, base)),
        GBlock(g, g), GBlock(g, g), GBlock(g, g),
        nn.BatchNorm2d(g), nn.ReLU(), nn.Conv2d(g, c, 3, 1, 1), nn.Tanh(),
    )

    def critic(in_ch: int, pool: str) -> Critic:
        body = nn.Sequential(
            DBlock(in_ch, dc, down=True, first=True), DBlock(dc, dc, down=True),
            DBlock(dc, dc, down=False), DBlock(dc, dc, down=False), nn.ReLU(), GlobalPool(pool),
        )
        return Critic(body, nn.Linear(dc, 1))

    # Table 1: global sum pooling in D_recon, global average pooling in D_inter.
    d_inter = critic(inter_inputs * c, "mean") if inter_inputs else None
    return Networks(encoder, generator, critic(2 * c, "sum"), d_inter)


# ---------------------------------------------------------------- entry point

def inter_critic_inputs(interpolation) -> int:
    """How many inputs D_inter concatenates: a pair for simplex interpolation, one image for ACAI, none for m=0."""
    if interpolation == "acai":
        return 1
    return 2 if interpolation else 0


def build_networks(cfg: Config, input_shape: tuple) -> Networks:
    """Networks for one preset and one input shape: (F,) for tabular presets, (C, H, W) for image presets."""
    k = inter_critic_inputs(cfg.interpolation)
    family = cfg.arch.family
    if family == "mlp":
        if len(input_shape) != 1:
            raise ValueError(f"preset {cfg.preset!r} is tabular and needs 2-D input (samples, features)")
        nets = build_mlp(cfg.arch, input_shape[0], k)
    elif family in ("conv", "resnet"):
        if len(input_shape) != 3:
            raise ValueError(f"preset {cfg.preset!r} takes images (samples, channels, height, width)")
        nets = (build_conv if family == "conv" else build_resnet)(cfg.arch, tuple(input_shape), k)
    else:
        raise ValueError(f"unknown architecture family {family!r}")
    if cfg.init == "xavier":
        for module in nets.modules().values():
            xavier_initialise(module)
    if cfg.uses_spectral_norm:
        _apply_spectral_norm(nets.d_recon)
    return nets


def xavier_initialise(module: nn.Module) -> None:
    """The authors' initialisation (their `model.py`): Xavier-uniform weights with gain sqrt(2) on the convolutions
    of residual branches and 1 elsewhere, zero biases. PyTorch's default (Kaiming-uniform) otherwise."""
    residual = {id(m) for block in module.modules() if isinstance(block, (GBlock, DBlock))
                for m in block.residual.modules()}
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            gain = 2 ** 0.5 if id(m) in residual and isinstance(m, nn.Conv2d) else 1.0
            nn.init.xavier_uniform_(m.weight, gain=gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
