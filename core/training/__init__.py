"""The training glue: the supplementary algorithm's loop (`trainer`), label-free model selection (`selection`), the
run's bookkeeping: loss log, history, callbacks, result (`bookkeeping`), training-health figures and verdicts
(`health`), latent snapshots per epoch (`timeline`), and the speed plumbing that leaves the maths unchanged
(`acceleration`, `kernels`)."""
