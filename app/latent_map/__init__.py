"""Latent map: projections of the test latents side by side (Fig. 2), the sample panel and the training timeline."""
