"""The analyses of Locatello et al. (2019) and Abdi et al. (2019) as pure functions of a study table
(:mod:`tfdisent.study.aggregate`): pandas in, numbers/tables out; no files, no plotting.

* :func:`metric_agreement`: Spearman rank correlation between metrics (and unsupervised scores) per dataset.
* :func:`tc_vs_strength`: total correlation of the mean vs the sampled representation per setting.
* :func:`variance_explained`: share of each metric's variance explained by method / setting vs seed.
* :func:`selection_probability_table`, :func:`unsupervised_selection`, :func:`hyperparameter_transfer`:
  model selection.
* :func:`normalized_sum`: Abdi et al.'s normalised sum of metrics.
* :func:`downstream_efficiency`: sample efficiency vs the disentanglement metrics.
* :func:`metric_vs_correlation`, :func:`correlation_trend`: scores against the training correlation strength
  (Träuble et al. 2021), and Page's trend test with the strongest-vs-uncorrelated change and its intervals.
* :func:`agreement_intervals`, :func:`variance_explained` (omega^2 with permutation p-values),
  ``selection_probability_table(..., intervals=True)``, :func:`unsupervised_selection_intervals`,
  :func:`hyperparameter_transfer_intervals`: the same
  analyses with their uncertainty (:mod:`tfdisent.study.analysis.uncertainty`).
* :func:`deduplicate_objectives`: models with an identical objective (beta_vae beta=1 = beta_tcvae beta=1
  = vae) counted once.
"""

from tfdisent.study.analysis.agreement import (agreement_intervals, metric_agreement, rank_correlation_test,
                                               spearman_matrix)
from tfdisent.study.analysis.correlation import correlation_trend, metric_vs_correlation
from tfdisent.study.analysis.duplicates import deduplicate_objectives, objective_key
from tfdisent.study.analysis.downstream import downstream_efficiency
from tfdisent.study.analysis.normalized_sum import normalized_sum
from tfdisent.study.analysis.selection import (chance_selection_probability, hyperparameter_transfer,
                                               hyperparameter_transfer_intervals,
                                               pairwise_selection_probability, selection_probability,
                                               selection_probability_table, unsupervised_selection,
                                               unsupervised_selection_intervals)
from tfdisent.study.analysis.tc import tc_vs_strength
from tfdisent.study.analysis.uncertainty import binomial_interval, sample_sd, stratified_bootstrap
from tfdisent.study.analysis.variance import eta_squared, omega_squared, variance_explained, variance_test

__all__ = ["agreement_intervals", "binomial_interval", "chance_selection_probability", "correlation_trend",
           "deduplicate_objectives", "downstream_efficiency", "eta_squared", "hyperparameter_transfer",
           "hyperparameter_transfer_intervals",
           "metric_agreement", "metric_vs_correlation", "normalized_sum", "objective_key", "omega_squared",
           "pairwise_selection_probability", "rank_correlation_test", "sample_sd", "selection_probability",
           "selection_probability_table", "spearman_matrix", "stratified_bootstrap", "tc_vs_strength",
           "unsupervised_selection", "unsupervised_selection_intervals", "variance_explained", "variance_test"]
