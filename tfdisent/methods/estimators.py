"""Estimators used by the objectives: total correlation, covariance penalties and MMD.

Shapes: ``z``, ``mean``, ``logvar`` are [B, D].
"""

from __future__ import annotations

from typing import Dict, Sequence

import tensorflow as tf

from tfdisent.models.distributions import gaussian_log_density

TC_ESTIMATORS = ("mws", "mss")


def _pairwise_log_density(z: tf.Tensor, mean: tf.Tensor, logvar: tf.Tensor) -> tf.Tensor:
    """log q(z_i,l | x_j) for every sample i, posterior j and dimension l: [B, B, D]."""
    return gaussian_log_density(z[:, None, :], mean[None, :, :], logvar[None, :, :])


def _stratified_log_weights(batch_size: int, dataset_size: int) -> tf.Tensor:
    """log of the minibatch-stratified-sampling weight matrix of Chen et al. (2018), App. C.2.

    Row i holds the weights of q(z_i | x_j): 1/N for the sample's own posterior, (N-M)/(N M)
    for one stratum neighbour and 1/M for the rest, with M = B - 1.
    """
    n, m = float(dataset_size), float(batch_size - 1)
    strat_weight = (n - m) / (n * m)
    eye = tf.eye(batch_size)
    neighbour = tf.roll(eye, shift=1, axis=1)  # (i, i+1) and (B-1, 0)
    weights = eye / n + neighbour * strat_weight + (1.0 - eye - neighbour) / m
    return tf.math.log(weights)


def total_correlations(z: tf.Tensor, mean: tf.Tensor, logvar: tf.Tensor, dataset_size: int,
                       estimators: Sequence[str] = ("mws",)) -> Dict[str, tf.Tensor]:
    """Minibatch estimates of TC(q(z)) = KL(q(z) || prod_l q(z_l)) (Chen et al. 2018, Sec. 3 / App. C),
    one per name in ``estimators``, all from one [B, B, D] matrix of pairwise log-densities.

    ``mws`` (minibatch weighted sampling), with log q(z_i) ~ logsumexp_j log q(z_i|x_j) - log(B N)
    and the same per dimension; disentanglement_lib implements this but drops the
    (D - 1) log(B N) constant, which leaves the gradients unchanged and makes the logged value
    meaningless, so it is kept here. ``mss`` (minibatch stratified sampling) uses the importance
    weights of :func:`_stratified_log_weights`; it needs N >= B. Always through logsumexp.
    """
    log_qz_given_x = _pairwise_log_density(z, mean, logvar)  # [B, B, D]
    return {name: _total_correlation_from_pairwise(log_qz_given_x, dataset_size, name) for name in estimators}


def total_correlation(z: tf.Tensor, mean: tf.Tensor, logvar: tf.Tensor, dataset_size: int,
                      estimator: str = "mws") -> tf.Tensor:
    """One estimate of :func:`total_correlations`."""
    return total_correlations(z, mean, logvar, dataset_size, (estimator,))[estimator]


def _total_correlation_from_pairwise(log_qz_given_x: tf.Tensor, dataset_size: int, estimator: str) -> tf.Tensor:
    if estimator == "mws":
        batch_size = tf.shape(log_qz_given_x)[0]
        log_norm = tf.math.log(tf.cast(batch_size, log_qz_given_x.dtype) * float(dataset_size))
        log_qz = tf.reduce_logsumexp(tf.reduce_sum(log_qz_given_x, axis=2), axis=1) - log_norm
        log_prod_qzl = tf.reduce_sum(tf.reduce_logsumexp(log_qz_given_x, axis=1) - log_norm, axis=1)
    elif estimator == "mss":
        static_batch = log_qz_given_x.shape[0]
        if static_batch is None:
            raise ValueError("the mss estimator needs a static batch size")
        if dataset_size < static_batch:
            raise ValueError(f"mss needs dataset_size >= batch size, got {dataset_size} < {static_batch}")
        log_w = _stratified_log_weights(static_batch, dataset_size)
        log_qz = tf.reduce_logsumexp(log_w + tf.reduce_sum(log_qz_given_x, axis=2), axis=1)
        log_prod_qzl = tf.reduce_sum(tf.reduce_logsumexp(log_w[:, :, None] + log_qz_given_x, axis=1), axis=1)
    else:
        raise ValueError(f"unknown TC estimator {estimator!r}; choose from {TC_ESTIMATORS}")
    return tf.reduce_mean(log_qz - log_prod_qzl)


def covariance(x: tf.Tensor) -> tf.Tensor:
    """Biased minibatch covariance E[x x^T] - E[x] E[x]^T, [D, D] (as disentanglement_lib)."""
    centered = x - tf.reduce_mean(x, axis=0, keepdims=True)
    return tf.matmul(centered, centered, transpose_a=True) / tf.cast(tf.shape(x)[0], x.dtype)


def dip_covariance(mean: tf.Tensor, logvar: tf.Tensor, dip_type: str) -> tf.Tensor:
    """Cov_q(z) as regularised by DIP-VAE (Kumar et al. 2018, Eqs. 6-7).

    Type ``i``: Cov[mu(x)]. Type ``ii``: Cov[mu(x)] + E_x[diag(sigma^2(x))], the covariance of the
    aggregate posterior (law of total covariance).
    """
    cov = covariance(mean)
    if dip_type == "i":
        return cov
    if dip_type == "ii":
        return cov + tf.linalg.diag(tf.reduce_mean(tf.exp(logvar), axis=0))
    raise ValueError(f"dip_type must be 'i' or 'ii', got {dip_type!r}")


def dip_penalties(cov: tf.Tensor):
    """(sum_{i!=j} C_ij^2, sum_i (C_ii - 1)^2): off-diagonal and diagonal DIP penalties."""
    diag = tf.linalg.diag_part(cov)
    off_diagonal = cov - tf.linalg.diag(diag)
    return tf.reduce_sum(tf.square(off_diagonal)), tf.reduce_sum(tf.square(diag - 1.0))


MMD_KERNELS = ("imq", "rbf")


def _kernel(a: tf.Tensor, b: tf.Tensor, kernel: str, scale: float) -> tf.Tensor:
    squared = tf.reduce_sum(tf.square(a[:, None, :] - b[None, :, :]), axis=-1)
    if kernel == "imq":
        return scale / (scale + squared)
    if kernel == "rbf":
        return tf.exp(-squared / scale)
    raise ValueError(f"unknown MMD kernel {kernel!r}; choose from {MMD_KERNELS}")


def mmd(x: tf.Tensor, y: tf.Tensor, kernel: str = "imq", scale: float | None = None) -> tf.Tensor:
    """Unbiased estimate of MMD^2 between the samples x ~ P and y ~ Q (Gretton et al. 2012, Eq. 3).

    Default kernel: inverse multiquadratic k(a, b) = C / (C + ||a - b||^2) with C = 2 D, the
    choice of Tolstikhin et al. (2018) for a unit-variance prior (RBF uses the same C as 2 sigma^2).
    """
    dim = x.shape[-1]
    scale = float(2 * dim) if scale is None else float(scale)
    n = tf.cast(tf.shape(x)[0], x.dtype)
    m = tf.cast(tf.shape(y)[0], y.dtype)
    k_xx = _kernel(x, x, kernel, scale)
    k_yy = _kernel(y, y, kernel, scale)
    k_xy = _kernel(x, y, kernel, scale)
    # Diagonal terms k(x_i, x_i) are dropped from the within-sample means (unbiased U-statistic).
    xx = (tf.reduce_sum(k_xx) - tf.linalg.trace(k_xx)) / (n * (n - 1.0))
    yy = (tf.reduce_sum(k_yy) - tf.linalg.trace(k_yy)) / (m * (m - 1.0))
    return xx + yy - 2.0 * tf.reduce_mean(k_xy)


def permute_dims(z: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Shuffles every latent column independently across the batch (Kim & Mnih 2018, Alg. 2).

    The result is a sample of prod_j q(z_j): each marginal is kept, the dependence is broken.
    Stateless (argsort of uniform noise) so it is reproducible and compiles under XLA.
    """
    noise = tf.random.stateless_uniform(tf.shape(z), seed=seed)
    order = tf.argsort(noise, axis=0)
    return tf.transpose(tf.gather(tf.transpose(z), tf.transpose(order), batch_dims=1))
