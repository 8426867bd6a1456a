"""TensorFlow loaders of ncps 1.0.1's data sets (``ncps.datasets.tf``)."""

from .atari_cloning import AtariCloningDatasetTF

__all__ = ["AtariCloningDatasetTF"]
