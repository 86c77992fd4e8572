"""What a training job trains (`JobSpec`): the dataset, class and hyper-parameters of the lab's form, the
estimator arguments they make and the CLI command that reproduces the run."""
from __future__ import annotations

import shlex
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional


@dataclass
class JobSpec:
    dataset: str
    anomaly_class: Optional[int]  # None for tabular data
    interpolation: object = 3  # 0, 2, 3 or "acai"
    lam: Optional[float] = None
    epochs: Optional[int] = None
    device: str = "cpu"
    seed: int = 0
    max_train: Optional[int] = None
    preset: Optional[str] = None
    data_dir: Optional[str] = None
    profile: Optional[str] = None
    lr: Optional[float] = None
    batch_size: Optional[int] = None
    scaling: Optional[str] = None
    recon_weight: Optional[float] = None
    threads: Optional[int] = None  # the worker's CPU threads (torch.set_num_threads); None = default_threads()
    user_data: Optional[dict] = None  # a user's dataset: its core.data.user_data.UserDataSource options
    contamination: Optional[float] = None  # predict()'s share of training scores above the threshold; None = default

    def run_name(self) -> str:
        klass = "all" if self.anomaly_class is None else self.anomaly_class
        return f"{self.dataset}-c{klass}-m{self.interpolation}-s{self.seed}-{time.strftime('%Y%m%d-%H%M%S')}"

    def command(self, out: Path) -> str:
        """The CLI command that reproduces this run."""
        args = ["python", "-m", "core", "train", *self._data_args(), "--interpolation", str(self.interpolation)]
        if self.anomaly_class is not None:
            args += ["--anomaly-class", str(self.anomaly_class)]
        for flag, v in (("--profile", self.profile), ("--preset", self.preset), ("--lam", self.lam),
                        ("--epochs", self.epochs), ("--lr", self.lr), ("--batch-size", self.batch_size),
                        ("--scaling", self.scaling), ("--recon-weight", self.recon_weight),
                        ("--max-train", self.max_train), ("--contamination", self.contamination),
                        ("--data-dir", None if self.user_data else self.data_dir)):
            if v is not None:
                args += [flag, str(v)]
        args += ["--seed", str(self.seed), "--device", self.device, "--out", str(out)]
        return shlex.join(args)

    def _data_args(self) -> list[str]:
        if not self.user_data:
            return ["--dataset", self.dataset]
        from core.data.user_data import UserDataSource

        return UserDataSource.from_record(self.user_data).cli_args()

    def model_kwargs(self) -> dict:
        """The MirroredAE arguments of this spec (None = the preset's or profile's value)."""
        return dict(preset=self.preset, interpolation=self.interpolation, profile=self.profile, lam=self.lam,
                    epochs=self.epochs, lr=self.lr, batch_size=self.batch_size, scaling=self.scaling,
                    recon_weight=self.recon_weight, device=self.device, seed=self.seed)
