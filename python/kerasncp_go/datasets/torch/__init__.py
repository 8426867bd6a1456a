"""PyTorch loaders of ncps 1.0.1's data sets (``ncps.datasets.torch``)."""

from .atari_cloning import AtariCloningDataset

__all__ = ["AtariCloningDataset"]
