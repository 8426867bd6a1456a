"""Datasets of keras-ncp 2.1.0 and ncps 1.0.1, read from local files.

``icra2020_lidar_collision_avoidance.load_data`` cuts the ICRA 2020 lidar
collision-avoidance recordings into training and test sequences exactly as
keras-ncp does. ``kerasncp_go.datasets.torch.AtariCloningDataset`` and
``kerasncp_go.datasets.tf.AtariCloningDatasetTF`` read ncps's Atari behaviour
cloning sequences (imported on their own, as in ncps, since each needs its
framework).

Nothing here downloads: a missing file raises an error that says where the
reference fetches it from and where to put it.
"""

from . import icra2020_lidar_collision_avoidance

__all__ = ["icra2020_lidar_collision_avoidance"]
