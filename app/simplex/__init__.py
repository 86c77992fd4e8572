"""Simplex explorer: anchors, weights on the simplex, every compared model's decoded interpolant and D_inter's
readout."""
