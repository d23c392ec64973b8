"""Networks (Keras 3 subclassed models) and distributions (TFP) shared by all objectives."""

from tfdisent.models.architectures import (ARCHITECTURES, build_architecture, check_architecture,
                                           default_architecture)
from tfdisent.models.discriminator import FactorDiscriminator
from tfdisent.models import distributions

__all__ = ["ARCHITECTURES", "FactorDiscriminator", "build_architecture", "check_architecture",
           "default_architecture", "distributions"]
