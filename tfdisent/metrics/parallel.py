"""Parallelism of the metrics: one map over worker processes (joblib)."""

from __future__ import annotations

from typing import Callable, Sequence


def parallel_map(function: Callable, argument_tuples: Sequence[tuple], n_jobs: int) -> list:
    """``[function(*args) for args in argument_tuples]``, in worker processes when
    ``n_jobs != 1`` (joblib; ``-1`` = all cores). Results keep the input order."""
    argument_tuples = list(argument_tuples)
    if not argument_tuples:
        return []
    import joblib
    workers = min(len(argument_tuples), joblib.effective_n_jobs(n_jobs))
    if workers <= 1:
        return [function(*arguments) for arguments in argument_tuples]
    return joblib.Parallel(n_jobs=workers)(joblib.delayed(function)(*arguments)
                                           for arguments in argument_tuples)
