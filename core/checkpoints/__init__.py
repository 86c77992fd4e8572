"""Checkpoints as untrusted input: safetensors weights (`weights_header` checks their header before reading), a
schema-checked JSON sidecar (`sidecar`), atomic writes, loading, renaming and deleting (`store`), and the manifest of
the shipped models (`manifest`)."""
