"""ROC and ablation: ROC curves against the baselines, per-class AUC beside the paper, thresholds, Fig. 4."""
