"""Models: the shipped checkpoints and the user's runs, their health and departures, and training jobs."""
