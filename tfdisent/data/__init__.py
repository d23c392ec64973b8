"""Ground-truth datasets (procedural and official files) and their tf.data input pipelines."""

from tfdisent.data.ground_truth import (DatasetError, GroundTruthData, factors_to_indices,
                                        indices_to_factors)
from tfdisent.data.registry import dataset_names, load_dataset, register_dataset

__all__ = ["DatasetError", "GroundTruthData", "dataset_names", "factors_to_indices",
           "indices_to_factors", "load_dataset", "register_dataset"]
