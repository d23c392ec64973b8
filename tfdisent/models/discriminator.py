"""The FactorVAE total-correlation discriminator (Kim & Mnih 2018, Sec. 3; Appendix A)."""

from __future__ import annotations

import keras

from tfdisent.models.architectures import add_layers


class FactorDiscriminator(keras.Model):
    """MLP on latents: ``num_layers`` x Dense(units, LeakyReLU 0.2) -> 2 logits.

    Logit 0 is "sample of q(z)", logit 1 "sample of prod_j q(z_j)" (permuted). disentanglement_lib
    uses 6 hidden layers of 1000 units; Kim & Mnih's appendix lists 5 or 6 depending on the
    dataset, hence the argument.
    """

    def __init__(self, num_layers: int = 6, units: int = 1000, **kwargs):
        kwargs.setdefault("name", "discriminator")
        super().__init__(**kwargs)
        # Named attributes, not a list: see architectures.add_layers (checkpoint tracking).
        self.hidden_names = add_layers(self, "dense", [keras.layers.Dense(units, name=f"dense{i + 1}")
                                                        for i in range(num_layers)])
        self.activation = keras.layers.LeakyReLU(negative_slope=0.2)
        # float32 logits under a mixed policy: the total-correlation estimate and the discriminator's
        # log-softmax loss read them (see architectures, FLOAT32_HEADS).
        self.logits = keras.layers.Dense(2, dtype="float32", name="logits")

    def call(self, z, training=False):
        h = z
        for name in self.hidden_names:
            h = self.activation(getattr(self, name)(h))
        return self.logits(h)
