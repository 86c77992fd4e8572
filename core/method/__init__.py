"""The method as pure torch (anomalib's `torch_model.py` + `loss.py`): configuration and the paper's presets
(`config`), the networks of the supplementary tables (`networks`), one small function per term of Eq. 3-5
(`losses`), the anomaly scores of Section 5.2 (`scoring`) and the input scaling (`scaling`). No training loop,
no files: `core.training` runs the method, `core.checkpoints` stores it."""
