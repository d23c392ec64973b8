"""The metrics' shared helpers, by their former single-module names.

The helpers live in one module per concern; this module re-exports them so that
``from tfdisent.metrics.utils import ...`` keeps working for metrics, plugins and user code:

* :mod:`tfdisent.metrics.checks`: :class:`MetricError`, random states, ground-truth datasets, codes;
* :mod:`tfdisent.metrics.sampling`: (codes, factors) draws in disentanglement_lib's random-stream
  order, batched encoding, :class:`SampleCache`;
* :mod:`tfdisent.metrics.information`: histogram discretizer, mutual information, entropies,
  Gaussian KL per dimension;
* :mod:`tfdisent.metrics.classifiers`: one-class fallback, quiet fitting, gradient-boosted trees;
* :mod:`tfdisent.metrics.parallel`: :func:`parallel_map`;
* :func:`tfdisent.files.to_python`: numpy values -> JSON-ready Python values.

Conventions (differ from disentanglement_lib on purpose, for readability): codes are
``[num_points, num_codes]`` and factors ``[num_points, num_factors]`` — disentanglement_lib
transposes both. Only numpy/scipy/scikit-learn and ``tfdisent.data`` are imported by the metrics'
helpers: the metrics must work for any model, TensorFlow or not.
"""

from tfdisent.files import to_python
from tfdisent.metrics.checks import (GROUND_TRUTH_INTERFACE, GroundTruthView, MetricError, as_ground_truth,
                                     check_codes, check_dataset, check_positive_int, check_random_state,
                                     num_factors_of)
from tfdisent.metrics.classifiers import (ESTIMATOR_SEED, GBT_BACKENDS, ConstantClassifier, accuracy,
                                          fit_classifier, gradient_boosting_importances, make_gradient_boosting)
from tfdisent.metrics.information import (discrete_entropy, discretize_codes_and_factors,
                                          gaussian_kl_per_dimension, histogram_discretize, knn_mutual_information,
                                          mutual_information_matrix)
from tfdisent.metrics.parallel import parallel_map
from tfdisent.metrics.sampling import (ENCODE_CHUNK_BYTES, ENCODE_CHUNK_POINTS, RepresentationFn, SampleCache,
                                       encode_array, encode_batches, encode_chunk_points, factor_traversals,
                                       generate_batch_factor_code, train_test_codes)

__all__ = ["GROUND_TRUTH_INTERFACE", "GroundTruthView", "MetricError", "as_ground_truth", "check_codes",
           "check_dataset", "check_positive_int", "check_random_state", "num_factors_of", "ESTIMATOR_SEED",
           "GBT_BACKENDS", "ConstantClassifier", "accuracy", "fit_classifier", "gradient_boosting_importances",
           "make_gradient_boosting", "discrete_entropy", "discretize_codes_and_factors", "gaussian_kl_per_dimension",
           "histogram_discretize", "knn_mutual_information", "mutual_information_matrix", "parallel_map",
           "ENCODE_CHUNK_BYTES", "ENCODE_CHUNK_POINTS", "RepresentationFn", "SampleCache", "encode_array",
           "encode_batches", "encode_chunk_points", "factor_traversals", "generate_batch_factor_code",
           "train_test_codes", "to_python"]
