"""scikit-learn's bundled 8x8 digits: the dataset that works with no data dir at all.

It ships inside scikit-learn (1,797 images, values 0..16), so demos, the app and smoke tests
run on a fresh install without downloads. It has no official split, so we make a fixed one:
stratified 70/30 with seed 0, the same on every machine.
"""

from __future__ import annotations

import numpy as np

from core.data.dataset import Dataset

__all__ = ["load_digits_dataset", "DIGITS_SEED", "DIGITS_TEST_SIZE"]

DIGITS_SEED = 0
DIGITS_TEST_SIZE = 0.3


def load_digits_dataset() -> Dataset:
    """The 8x8 digits as uint8 (N, 1, 8, 8) in 0..16, split 70/30 stratified with seed 0."""
    from sklearn.datasets import load_digits  # imported here: scikit-learn is slow to import
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    X = bunch.images.astype(np.uint8)[:, None, :, :]  # values are integers 0..16
    y = bunch.target.astype(np.int64)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=DIGITS_TEST_SIZE, stratify=y, random_state=DIGITS_SEED)
    return Dataset(name="digits", kind="image",
                   description="scikit-learn 8x8 digits (bundled; no download), stratified 70/30 split, seed 0.",
                   X_train=X_train, y_train=y_train, X_test=X_test, y_test=y_test,
                   class_names=[str(i) for i in range(10)], input_range=(0, 16), source=("sklearn.datasets.load_digits",))
