"""The analyses of Locatello et al. (2019) and Abdi et al. (2019) as pure functions of a study table
(:mod:`tfdisent.study.aggregate`): pandas in, numbers/tables out; no files, no plotting.

* :func:`metric_agreement`: Spearman rank correlation between metrics (and unsupervised scores) per dataset.
* :func:`tc_vs_strength`: total correlation of the mean vs the sampled representation per setting.
* :func:`variance_explained`: share of each metric's variance explained by method / setting vs seed.
* :func:`selection_probability_table`, :func:`unsupervised_selection`, :func:`hyperparameter_transfer`:
  model selection.
* :func:`normalized_sum`: Abdi et al.'s normalised sum of metrics.
* :func:`downstream_efficiency`: sample efficiency vs the disentanglement metrics.
* :func:`metric_vs_correlation`: scores against the training correlation strength (Träuble et al. 2021).
"""

from tfdisent.study.analysis.agreement import metric_agreement, spearman_matrix
from tfdisent.study.analysis.correlation import metric_vs_correlation
from tfdisent.study.analysis.downstream import downstream_efficiency
from tfdisent.study.analysis.normalized_sum import normalized_sum
from tfdisent.study.analysis.selection import (hyperparameter_transfer, pairwise_selection_probability,
                                               selection_probability, selection_probability_table,
                                               unsupervised_selection)
from tfdisent.study.analysis.tc import tc_vs_strength
from tfdisent.study.analysis.variance import variance_explained

__all__ = ["downstream_efficiency", "hyperparameter_transfer", "metric_agreement", "metric_vs_correlation",
           "normalized_sum",
           "pairwise_selection_probability", "selection_probability", "selection_probability_table",
           "spearman_matrix", "tc_vs_strength", "unsupervised_selection", "variance_explained"]
