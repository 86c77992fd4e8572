"""What several pages of the lab use: the sidebar and page context (`sidebar`), shipped checkpoints and the user's
runs (`catalogue`), heavy results once per server (`caches`, `projection_store`), projections and thresholds
(`analysis`), shared figures, labels and images (`figures`, `labels`, `images`, `display`), the error guard
(`guard`), background training jobs and their owners (`jobs`, `owner`), and the session-state keys of the sidebar
and the entry script (`keys`). A shared module imports no page package."""
