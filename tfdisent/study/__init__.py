"""Studies: many models (methods x hyperparameters x seeds x datasets) as data, run on Ray Tune,
aggregated into one table and analysed as Locatello et al. (2019) and Abdi et al. (2019) did.

Modules (import them directly; this package imports nothing heavy):

* :mod:`~tfdisent.study.spec`: study files (``flags/studies/*.json``), grid expansion and numbering, filters.
* :mod:`~tfdisent.study.plan`: model count and projected cost.
* :mod:`~tfdisent.study.trial`: one model = train, export, evaluate, record.
* :mod:`~tfdisent.study.runner`: the Ray Tune driver (resources, retries, resume, progress).
* :mod:`~tfdisent.study.aggregate`: one tidy table from our records and disentanglement_lib's files.
* :mod:`~tfdisent.study.analysis`: the paper's analyses as pure functions of the table.
* :mod:`~tfdisent.study.report`: figures, CSV tables and ``index.md``.
"""
