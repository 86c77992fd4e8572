"""Training health: did the model learn anything? Figures per epoch and a verdict, on the training data only.

A GAN-style objective can leave E and G where they started (Table 5's Thyroid setting: SGD at lr 2e-5 moves the
encoder's weights by 0.06 %), or train them to a reconstruction no better than predicting the mean. The anomaly
score of such a model is a distance to an arbitrary point, and its AUC is decided by the initialisation. These
figures make that impossible to miss:

* ``recon_ratio``: the reconstruction MSE ||x - G(E(x))||^2 over the MSE of predicting the training mean (the
  data's variance), both per feature in the model's normalised units. 1 = no better than the mean.
* ``output_spread``: the spread of G(E(x)) across samples over the data's spread (root mean per-feature variance).
  0 = the same output for every input.
* ``e_change`` / ``g_change``: ||theta - theta_0|| / ||theta_0|| of the encoder's and generator's weights.
* ``latent_norm``: the mean ||E(x)||, next to sqrt(d), the radius R(E) allows.
* ``w_estimate``: the critic's Wasserstein estimate E[D(x, x)] - E[D(x, G(E(x)))] (from the training steps).

The verdict, first match wins: ``diverged`` (a non-finite loss), ``untrained`` (E and G both moved less than
THRESHOLDS["untrained_weight_change"]), ``collapsed`` (recon_ratio above THRESHOLDS["collapsed_recon_ratio"], or
output_spread below THRESHOLDS["collapsed_output_spread"]), else ``ok``.
"""
from __future__ import annotations

import math

import torch

from core.method.networks import Networks
from core.method.scoring import eval_mode, feature_score

# The one place the verdict's thresholds live (documented in the module docstring and the README).
THRESHOLDS = {
    "untrained_weight_change": 0.02,  # both E and G moved less than 2 % of their initial norm
    "collapsed_recon_ratio": 0.9,  # reconstruction error at least 90 % of the mean predictor's
    "collapsed_output_spread": 0.1,  # G(E(x)) varies less than 10 % as much as the data
}
VERDICTS = ("ok", "untrained", "collapsed", "diverged")
FIGURES = ("recon_ratio", "output_spread", "e_change", "g_change", "latent_norm", "recon_mse", "mean_mse")


def flat_weights(module: torch.nn.Module) -> torch.Tensor:
    params = [p.detach().flatten().float() for p in module.parameters()]
    return torch.cat(params).clone() if params else torch.zeros(0)


def relative_change(module: torch.nn.Module, initial: torch.Tensor) -> float:
    now = flat_weights(module)
    if now.shape != initial.shape or not len(now):
        return 0.0
    return float((now - initial).norm() / initial.norm().clamp_min(1e-12))


@torch.no_grad()
def probe(nets: Networks, X: torch.Tensor, initial: dict[str, torch.Tensor], batch_size: int = 1024) -> dict:
    """One eval-mode pass over X (training samples, normalised): the model-selection loss (mean feature score) and
    the health figures."""
    n, n_features = len(X), X[0].numel()
    feature = sq_err = z_norm = 0.0
    out_sum = torch.zeros(n_features, dtype=torch.float64, device=X.device)
    out_sq = torch.zeros_like(out_sum)
    with eval_mode(nets):
        for i in range(0, n, batch_size):
            x = X[i:i + batch_size]
            z = nets.encoder(x)
            x_hat = nets.generator(z)
            feature += float(feature_score(nets, x, x_hat).sum())
            sq_err += float(((x - x_hat) ** 2).sum())
            z_norm += float(z.norm(dim=1).sum())
            flat = x_hat.flatten(1).double()
            out_sum += flat.sum(0)
            out_sq += (flat ** 2).sum(0)
    mean_mse = float(X.flatten(1).double().var(dim=0, unbiased=False).mean())
    out_var = float((out_sq / n - (out_sum / n) ** 2).clamp_min(0).mean())
    recon_mse = sq_err / (n * n_features)
    return {
        "loss_feat": feature / n,
        "recon_mse": recon_mse,
        "mean_mse": mean_mse,
        "recon_ratio": recon_mse / mean_mse if mean_mse > 0 else math.inf,
        "output_spread": math.sqrt(out_var / mean_mse) if mean_mse > 0 else 0.0,
        "latent_norm": z_norm / n,
        "e_change": relative_change(nets.encoder, initial["encoder"]),
        "g_change": relative_change(nets.generator, initial["generator"]),
    }


def verdict(figures: dict, status: str = "completed") -> tuple[str, list[str]]:
    """(verdict, reasons in words) for the figures of the kept weights."""
    t = THRESHOLDS
    values = [figures.get(k) for k in ("recon_ratio", "output_spread", "e_change", "g_change")]
    if status == "diverged" or any(v is None or not math.isfinite(v) for v in values):
        return "diverged", ["a loss or a health figure became NaN or infinite"]
    e, g = figures["e_change"], figures["g_change"]
    if max(e, g) < t["untrained_weight_change"]:
        return "untrained", [f"E and G barely moved from their initialisation (E {e:.2%}, G {g:.2%} of their norm; "
                             f"threshold {t['untrained_weight_change']:.0%})"]
    reasons = []
    if figures["recon_ratio"] > t["collapsed_recon_ratio"]:
        reasons.append(f"the reconstruction error is {figures['recon_ratio']:.2f} x that of predicting the training "
                       f"mean (threshold {t['collapsed_recon_ratio']})")
    if figures["output_spread"] < t["collapsed_output_spread"]:
        reasons.append(f"G(E(x)) varies only {figures['output_spread']:.3f} x as much as the data across samples "
                       f"(threshold {t['collapsed_output_spread']})")
    return ("collapsed", reasons) if reasons else ("ok", [])


def summary(figures: dict, status: str, epoch) -> dict:
    """The sidecar's `health` record: verdict, reasons, the figures at the kept epoch and the thresholds."""
    v, reasons = verdict(figures, status)
    return {"verdict": v, "reasons": reasons, "epoch": epoch,
            **{k: figures.get(k) for k in FIGURES + ("w_estimate",) if k in figures},
            "thresholds": dict(THRESHOLDS)}


def describe(health: dict) -> str:
    """One line for the CLI: 'health: collapsed (the reconstruction error is 0.98 x ...)'."""
    if not health:
        return "health: not recorded"
    text = f"health: {health['verdict']}"
    if health.get("reasons"):
        text += " (" + "; ".join(health["reasons"]) + ")"
    figs = [f"{k} {health[k]:.3g}" for k in ("recon_ratio", "output_spread", "e_change", "g_change")
            if isinstance(health.get(k), (int, float))]
    return text + ("  [" + ", ".join(figs) + "]" if figs else "")
