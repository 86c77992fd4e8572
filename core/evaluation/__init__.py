"""Evaluation: the paper's protocols, metrics, baselines and the reproduction runner."""
