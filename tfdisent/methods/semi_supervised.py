"""Semi-supervised VAEs with few labels (Locatello et al. 2020, "Disentangling Factors of Variation
Using Few Labels", ICLR, Eq. 2; disentanglement_lib's ``methods/semi_supervised``):

    loss = L_unsup(x) + gamma_sup(t) * L_sup(r(x_l)_{1..L}, y_l),

the unsupervised objective (beta-VAE, beta-TCVAE, FactorVAE or DIP-VAE, unchanged) on an unlabelled
batch x, plus a supervised loss tying the first L latent means r(x_l) = mu(x_l) of a labelled batch to
its L labels y_l (:mod:`tfdisent.data.labels`). Supervised losses (Sec. 3 of the paper), summed over
the label columns j and averaged over the batch:

* ``l2``: (b * r_j - y_j)^2 with a learned scale b (initialised to 1).
* ``xent``: sigmoid cross-entropy with logits r_j and targets y_j / n_j (n_j values of label j).
* ``cov``: sum_{i != j} Cov(r_i, y_j)^2, the squared off-diagonal batch cross-covariances (no batch mean).
* ``embed``: logits_k = -((r_j - e_jk) * s_j)^2 over the n_j values k of label j, softmax cross-entropy
  against y_j; the embedding e_j (initialised to linspace(-1, 1, n_j)) and the sharpness s_j (init 1)
  are learned.

gamma_sup(t) schedules: ``fixed`` gamma_sup; ``anneal`` min(gamma_sup, gamma_sup * t / T);
``fine_tune`` gamma_sup * clip(t - T, 0, 1) (supervision only after T steps); T = ``gamma_threshold``.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import tensorflow as tf

from tfdisent.data import labels as label_data
from tfdisent.methods.beta_tcvae import BetaTCVAE
from tfdisent.methods.beta_vae import BetaVAE
from tfdisent.methods.dip_vae import DIPVAE
from tfdisent.methods.factor_vae import FactorVAE
from tfdisent.methods.hyperparameters import Hyperparameter

SUPERVISED_LOSSES = ("l2", "xent", "cov", "embed")
GAMMA_SCHEDULES = ("fixed", "anneal", "fine_tune")

SEMI_SUPERVISED_HYPERPARAMETERS = (
    Hyperparameter("gamma_sup", 4.0, "weight of the supervised loss on the labelled batch"),
    Hyperparameter("supervised_loss", "xent", "supervised loss on the first L latent means: l2 (learned scale), "
                   "xent, cov or embed", str, choices=SUPERVISED_LOSSES, lower_bound=None),
    Hyperparameter("gamma_schedule", "fixed", "schedule of gamma_sup: fixed, anneal (linear up to "
                   "gamma_threshold steps) or fine_tune (0 before gamma_threshold steps)", str,
                   choices=GAMMA_SCHEDULES, lower_bound=None),
    Hyperparameter("gamma_threshold", 10000, "steps T of the anneal/fine_tune gamma schedules", int, lower_bound=1),
    Hyperparameter("num_labels", 1000, "labelled examples (90% train, 10% validation)", int, lower_bound=2),
    Hyperparameter("labeller", "perfect", "what the labels say: perfect, bin (5 values), noisy (10% resampled), "
                   "permuted (values relabelled), partial (2 factors)", str, choices=label_data.LABELLERS,
                   lower_bound=None),
)


# --- the supervised losses (pure functions: representation [B, L], labels [B, L]) --------------------
def l2_loss(representation: tf.Tensor, labels: tf.Tensor, scale: tf.Tensor) -> tf.Tensor:
    """mean_b sum_j (b * r_bj - y_bj)^2."""
    return tf.reduce_mean(tf.reduce_sum(tf.square(scale * representation - labels), axis=1))


def xent_loss(representation: tf.Tensor, labels: tf.Tensor, label_sizes: Sequence[int]) -> tf.Tensor:
    """mean_b sum_j sigmoid_CE(logits=r_bj, targets=y_bj / n_j)."""
    targets = labels / tf.constant(np.asarray(label_sizes, np.float32))
    return tf.reduce_mean(tf.reduce_sum(
        tf.nn.sigmoid_cross_entropy_with_logits(labels=targets, logits=representation), axis=1))


def cov_loss(representation: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    """sum_{i != j} Cov(r_i, y_j)^2 over the batch (biased covariance, 1/B)."""
    r = representation - tf.reduce_mean(representation, axis=0, keepdims=True)
    y = labels - tf.reduce_mean(labels, axis=0, keepdims=True)
    cross = tf.matmul(r, y, transpose_a=True) / tf.cast(tf.shape(r)[0], tf.float32)
    return tf.reduce_sum(tf.square(cross)) - tf.reduce_sum(tf.square(tf.linalg.diag_part(cross)))


def embed_loss(representation: tf.Tensor, labels: tf.Tensor, embeddings: Sequence[tf.Tensor],
               sharpness: tf.Tensor) -> tf.Tensor:
    """mean_b sum_j CE(softmax_k(-((r_bj - e_jk) * s_j)^2), y_bj)."""
    total = 0.0
    for j, embedding in enumerate(embeddings):
        logits = -tf.square((representation[:, j:j + 1] - embedding[None, :]) * sharpness[j])
        total += tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.cast(labels[:, j], tf.int32),
                                                                logits=logits)
    return tf.reduce_mean(total)


def gamma_at(step: tf.Tensor, gamma: float, schedule: str, threshold: int) -> tf.Tensor:
    """gamma_sup(t) of the three schedules (see the module docstring)."""
    t = tf.cast(step, tf.float32)
    if schedule == "fixed":
        return tf.constant(gamma, tf.float32)
    if schedule == "anneal":
        return tf.minimum(gamma, gamma * t / float(threshold))
    if schedule == "fine_tune":
        return gamma * tf.clip_by_value(t - float(threshold), 0.0, 1.0)
    raise ValueError(f"unknown gamma_schedule {schedule!r}; choose from {', '.join(GAMMA_SCHEDULES)}")


class SupervisedHead(tf.Module):
    """The learned parameters of the supervised losses (l2 scale; embed embeddings and sharpness)."""

    def __init__(self, loss: str, label_sizes: Sequence[int]):
        super().__init__(name="supervised_head")
        self.loss = loss
        self.label_sizes = tuple(int(n) for n in label_sizes)
        self.scale = tf.Variable(1.0, name="l2_scale") if loss == "l2" else None
        self.embeddings = [tf.Variable(np.linspace(-1.0, 1.0, n).astype(np.float32), name=f"embedding_{j}")
                           for j, n in enumerate(self.label_sizes)] if loss == "embed" else []
        self.sharpness = (tf.Variable(np.ones(len(self.label_sizes), np.float32), name="sharpness")
                          if loss == "embed" else None)

    def __call__(self, representation: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
        if self.loss == "l2":
            return l2_loss(representation, labels, self.scale)
        if self.loss == "xent":
            return xent_loss(representation, labels, self.label_sizes)
        if self.loss == "cov":
            return cov_loss(representation, labels)
        return embed_loss(representation, labels, self.embeddings, self.sharpness)


class SemiSupervised:
    """Mixin turning an unsupervised objective into its semi-supervised version (put it first in the bases).

    The labelled subset is drawn in :meth:`adapt` from the dataset and the run's objective seed, so it
    is the same when a run resumes; its validation part is ``self.labelled.validation_*``.
    """

    # Labels enter the training: not for the unsupervised PBT of tfdisent.pbt (the strengths of the
    # unsupervised objectives still apply to study reports).
    pbt_explores = ()

    def __init__(self, encoder, decoder, *, gamma_sup: float = 4.0, supervised_loss: str = "xent",
                 gamma_schedule: str = "fixed", gamma_threshold: int = 10000, num_labels: int = 1000,
                 labeller: str = "perfect", **kwargs):
        super().__init__(encoder, decoder, **kwargs)
        if gamma_sup < 0:
            raise ValueError(f"gamma_sup must be non-negative, got {gamma_sup}")
        if supervised_loss not in SUPERVISED_LOSSES:
            raise ValueError(f"unknown supervised_loss {supervised_loss!r}; choose from {', '.join(SUPERVISED_LOSSES)}")
        if gamma_schedule not in GAMMA_SCHEDULES:
            raise ValueError(f"unknown gamma_schedule {gamma_schedule!r}; choose from {', '.join(GAMMA_SCHEDULES)}")
        if labeller not in label_data.LABELLERS:
            raise ValueError(f"unknown labeller {labeller!r}; choose from {', '.join(label_data.LABELLERS)}")
        self.gamma_sup = float(gamma_sup)
        self.supervised_loss = supervised_loss
        self.gamma_schedule = gamma_schedule
        self.gamma_threshold = int(gamma_threshold)
        self.num_labels = int(num_labels)
        self.labeller = labeller
        self.labelled: Optional[label_data.LabelledSubset] = None
        self.supervised_head: Optional[SupervisedHead] = None

    def set_label_sizes(self, label_sizes: Sequence[int]) -> None:
        """Creates the supervised loss' parameters for labels with these numbers of values."""
        if len(label_sizes) > self.encoder.latent_dim:
            raise ValueError(f"{self.method_name}: {len(label_sizes)} labels need --latent_dim >= "
                             f"{len(label_sizes)}, got {self.encoder.latent_dim}")
        self.supervised_head = SupervisedHead(self.supervised_loss, label_sizes)

    def adapt(self, dataset) -> None:
        super().adapt(dataset)
        # Salted so the labelled draws differ from the objective's sampling noise stream.
        self.labelled = label_data.draw_labelled_subset(dataset, self.num_labels, self.labeller,
                                                        (self.seed * 7919 + 17) % (2 ** 31 - 1))
        self.set_label_sizes(self.labelled.label_sizes)

    def training_dataset(self, dataset, batch_size: int, seed: int):
        if self.labelled is None:
            self.adapt(dataset)
        return label_data.semi_supervised_dataset(dataset, self.labelled, batch_size, seed)

    def vae_variables(self):
        head = list(self.supervised_head.trainable_variables) if self.supervised_head is not None else []
        return super().vae_variables() + head

    def gamma_sup_at(self) -> tf.Tensor:
        """gamma_sup(t) at the current step."""
        return gamma_at(self.step, self.gamma_sup, self.gamma_schedule, self.gamma_threshold)

    def supervised_term(self, x_labelled: tf.Tensor, y_labelled: tf.Tensor, training: bool) -> tf.Tensor:
        """L_sup on the first L latent means of the labelled batch."""
        mean, _ = self.encode(x_labelled, training)
        num_labels = len(self.supervised_head.label_sizes)
        return self.supervised_head(mean[:, :num_labels], tf.cast(y_labelled, tf.float32))

    def auxiliary_loss(self, data, training: bool):
        """gamma_sup(t) * L_sup on the labelled batch of ``data`` (Eq. 2); a plain tensor (no labels,
        e.g. ``test_step`` on observations) adds nothing."""
        if not isinstance(data, dict):
            return None, {}
        supervised = self.supervised_term(data["x_labelled"], data["y_labelled"], training)
        gamma = self.gamma_sup_at()
        return gamma * supervised, {"supervised_loss": supervised, "gamma_sup": gamma}

    def checkpoint_objects(self):
        objects = super().checkpoint_objects()
        if self.supervised_head is not None:
            objects["supervised_head"] = self.supervised_head
        return objects


class S2VAE(SemiSupervised, BetaVAE):
    """S2-VAE: beta-VAE (Higgins et al. 2017) + gamma_sup * L_sup (Locatello et al. 2020b, Eq. 2)."""

    method_name = "s2_vae"
    hyperparameters = BetaVAE.hyperparameters + SEMI_SUPERVISED_HYPERPARAMETERS


class S2BetaTCVAE(SemiSupervised, BetaTCVAE):
    """S2-beta-TCVAE: beta-TCVAE (Chen et al. 2018) + gamma_sup * L_sup."""

    method_name = "s2_beta_tcvae"
    hyperparameters = BetaTCVAE.hyperparameters + SEMI_SUPERVISED_HYPERPARAMETERS


class S2FactorVAE(SemiSupervised, FactorVAE):
    """S2-FactorVAE: FactorVAE (Kim & Mnih 2018) + gamma_sup * L_sup (the discriminator sees the unlabelled z)."""

    method_name = "s2_factor_vae"
    hyperparameters = FactorVAE.hyperparameters + SEMI_SUPERVISED_HYPERPARAMETERS


class S2DIPVAE(SemiSupervised, DIPVAE):
    """S2-DIP-VAE: DIP-VAE-I or -II (Kumar et al. 2018, ``dip_type``) + gamma_sup * L_sup."""

    method_name = "s2_dip_vae"
    hyperparameters = (DIPVAE.hyperparameters
                       + (Hyperparameter("dip_type", "i", "DIP-VAE-I (i) or -II (ii)", str, choices=("i", "ii"),
                                         lower_bound=None),)
                       + SEMI_SUPERVISED_HYPERPARAMETERS)

    def __init__(self, encoder, decoder, *, dip_type: str = "i", **kwargs):
        if dip_type not in ("i", "ii"):
            raise ValueError(f"dip_type must be i or ii, got {dip_type!r}")
        super().__init__(encoder, decoder, **kwargs)
        self.dip_type = dip_type  # read by DIPVAE.regularizer (a class attribute in DIPVAEI/II)
