"""An example tfdisent plugin: importing this module registers one method, one metric and one dataset.

* ``cyclical_beta_vae``: a VAE with the cyclical KL annealing schedule of Fu et al. (2019)
  (:mod:`tfdisent_example_plugin.cyclical`);
* ``linear_probe_r2``: the held-out R^2 of a linear regression of each factor on the code
  (:mod:`tfdisent_example_plugin.linear_probe`);
* ``moving_squares``: one square on a grid of positions, rendered procedurally
  (:mod:`tfdisent_example_plugin.moving_squares`).

Registration is lazy ("module:Class" strings), as tfdisent registers its built-ins: importing the
plugin costs nothing until a name is used (tfdisent loads and checks each entry of a plugin when the
plugin is imported through ``--plugins``, so a broken one fails at once).
"""

from tfdisent.data import register_dataset
from tfdisent.methods import register_method
from tfdisent.metrics import register_metric

register_method("cyclical_beta_vae", "tfdisent_example_plugin.cyclical:CyclicalBetaVAE")
register_metric("linear_probe_r2", "tfdisent_example_plugin.linear_probe")
register_dataset("moving_squares", "tfdisent_example_plugin.moving_squares:MovingSquares")
