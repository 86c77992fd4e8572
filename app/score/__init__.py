"""Score your data: a user's files through core.data.readers, scored by a chosen model."""
