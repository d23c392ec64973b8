"""Population-based training for disentanglement (Estermann, Marks & Yanik 2020, "Robust
Disentanglement of a Few Factors at a Time"): PBT-S-VAE (MIG fitness, all or few labels),
PBT-U-VAE (UDR fitness over five lock-step models per member) and the recursive rPU-VAE, on Ray
(a synchronous driver over one long-lived actor per member).

Pure parts (no Ray, no TensorFlow): :mod:`explore` (initial draws, explore rule, truncation
selection), :mod:`stopping`, :mod:`fitness`, :mod:`splitting` (gap/peak dataset reduction),
:mod:`records` (population.csv, lineage). Ray parts: :mod:`member` (a member for the whole run), :mod:`runner`,
:mod:`rpu` (the recursion). Import the submodules directly.
"""
