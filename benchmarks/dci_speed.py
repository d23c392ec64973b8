"""DCI's gradient boosting backends side by side: ``exact`` (ours) vs scikit-learn's estimator,
at the study's DCI settings.

The data is the study's: 10,000 training and 5,000 test points (batch 16) of a dSprites-like
factor grid (sizes 3, 6, 40, 32, 32: one booster per factor with that many classes) encoded into
10 latents by :class:`tfdisent.metrics.synthetic.SyntheticRepresentation` — 5 factor dimensions
plus 5 noise dimensions — in three kinds: ``disentangled``, ``rotated`` (the same code under a
random rotation) and ``noise`` (pure noise). Each code is drawn once; every backend then fits on
the very same samples, so the score differences are the estimators' alone. The numba kernels are
compiled (or loaded from cache) before timing.

    python benchmarks/dci_speed.py                          # full size; sklearn ~4 min per code
    python benchmarks/dci_speed.py --quick                  # 1,000 / 500 points
    python benchmarks/dci_speed.py --codes=rotated --n_jobs=2
    python benchmarks/dci_speed.py --first_call             # a fresh process's first DCI: cold vs cached
    python benchmarks/dci_speed.py --quick --codes=rotated --backends=exact --n_jobs=2 --parallel=processes,threads

Prints, per code, every backend's seconds, the speed-up over scikit-learn and every DCI output's
difference from scikit-learn's. ``--parallel`` times each backend with the factors fitted in joblib's
worker processes (``processes``, what ``n_jobs`` does) and/or in threads (``threads``, via
``joblib.parallel_config(backend="threading")``; the exact kernels are ``nogil``).

``--first_call`` (issue 18): the first DCI call of a fresh Python process (imports excluded), each in
its own subprocess: with an empty numba cache directory (every kernel compiled: what each fresh trial
or Ray worker paid when it could not write a shared cache), then again with that directory filled by
the first (the kernels loaded: what ``tfdisent.training.resources.shared_numba_cache`` gives every
process after the first). (The retired ``hist`` backend was measured with this script
before its removal: see BUILD_NOTES.)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import joblib
import numpy as np

from tfdisent.data.synthetic import IdentityObservations
from tfdisent.metrics import dci, utils
from tfdisent.metrics.synthetic import SyntheticRepresentation

DSPRITES_LIKE = (3, 6, 40, 32, 32)


def draw(kind: str, num_train: int, num_test: int, seed: int):
    representation = SyntheticRepresentation(DSPRITES_LIKE, kind, noise_dims=5, noise_scale=1.0, seed=seed)
    settings = {"num_train": num_train, "num_test": num_test, "batch_size": 16}
    return utils.train_test_codes(IdentityObservations(DSPRITES_LIKE), representation,
                                  np.random.RandomState(seed), settings)


FIRST_CALL = r"""
import json, time
start = time.perf_counter()
import numpy as np
from tfdisent.metrics import dci
imported = time.perf_counter()
codes, factors = np.random.RandomState(0).randn(200, 4), np.arange(600).reshape(200, 3) % 4
dci.dci_from_codes(codes, factors, codes, factors, "exact", 1)
print(json.dumps({"import_seconds": imported - start, "first_call_seconds": time.perf_counter() - imported}))
"""


def first_call(repeats: int) -> dict:
    """Seconds of a fresh process's first DCI call with an empty, then a filled numba cache."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = {"cold": [], "cached": []}
    for _ in range(repeats):
        cache = tempfile.mkdtemp(prefix="numba_bench_")
        env = dict(os.environ, NUMBA_CACHE_DIR=cache,
                   PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
        for kind in ("cold", "cached"):
            done = subprocess.run([sys.executable, "-c", FIRST_CALL], capture_output=True, text=True, env=env,
                                  check=True)
            out[kind].append(json.loads(done.stdout.strip().splitlines()[-1])["first_call_seconds"])
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--codes", default="disentangled,rotated,noise")
    parser.add_argument("--backends", default="exact,sklearn", help="comma list; the first is the reference "
                        "for the speed-up, scikit-learn (if listed) for the score differences")
    parser.add_argument("--n_jobs", type=int, default=1, help="factors fitted in parallel (1: one core each)")
    parser.add_argument("--quick", action="store_true", help="1,000 train / 500 test points")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--parallel", default="processes", help="comma list of processes, threads")
    parser.add_argument("--first_call", action="store_true", help="only the fresh-process first-call timing")
    parser.add_argument("--repeats", type=int, default=3, help="--first_call: fresh process pairs")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} at start (shared machine)", flush=True)
    if args.first_call:
        times = first_call(args.repeats)
        cold, cached = sorted(times["cold"]), sorted(times["cached"])
        print(f"first DCI call of a fresh process (median of {args.repeats}): empty numba cache "
              f"{cold[len(cold) // 2]:.2f} s, filled cache {cached[len(cached) // 2]:.2f} s "
              f"({cold[len(cold) // 2] / cached[len(cached) // 2]:.1f}x); all: {json.dumps(times)}")
        return
    num_train, num_test = (1000, 500) if args.quick else (10000, 5000)
    backends = args.backends.split(",")
    names = [b if p == "processes" else f"{b}/{p}" for b in backends for p in args.parallel.split(",")]

    start = time.perf_counter()
    warm_codes, warm_factors = np.random.RandomState(0).randn(50, 3), np.arange(150).reshape(50, 3) % 3
    dci.dci_from_codes(warm_codes, warm_factors, warm_codes, warm_factors, "exact", 1)
    print(f"numba compile / cache load: {time.perf_counter() - start:.1f} s", flush=True)

    rows = []
    for kind in args.codes.split(","):
        codes_train, factors_train, codes_test, factors_test = draw(kind, num_train, num_test, args.seed)
        results, seconds = {}, {}
        for backend in backends:
            for parallel in args.parallel.split(","):
                name = backend if parallel == "processes" else f"{backend}/{parallel}"
                start = time.perf_counter()
                with joblib.parallel_config(backend="threading" if parallel == "threads" else "loky"):
                    results[name] = dci.dci_from_codes(codes_train, factors_train, codes_test, factors_test,
                                                       backend, args.n_jobs)
                seconds[name] = time.perf_counter() - start
                print(f"{kind:>12} {name:>16}: {seconds[name]:7.1f} s  " + ", ".join(
                    f"{key}={value:.4f}" for key, value in results[name].items()), flush=True)
        rows.append((kind, results, seconds))

    print(f"\nDCI at {num_train} train / {num_test} test points, factors {DSPRITES_LIKE}, 10 latents, "
          f"n_jobs={args.n_jobs}")
    reference = "sklearn" if "sklearn" in names else None
    for kind, results, seconds in rows:
        line = f"{kind:>12}: " + ", ".join(f"{backend} {seconds[backend]:.1f} s" for backend in names)
        if reference:
            line += "; speed-up over sklearn: " + ", ".join(
                f"{backend} {seconds[reference] / seconds[backend]:.1f}x" for backend in names
                if backend != reference)
            for backend in names:
                if backend != reference:
                    line += f"\n{'':>14}{backend} - sklearn: " + ", ".join(
                        f"{key} {results[backend][key] - value:+.4f}" for key, value in results[reference].items())
        print(line)
    if reference and len(rows) > 1:
        total = {backend: sum(seconds[backend] for _, _, seconds in rows) for backend in names}
        print("total: " + ", ".join(f"{backend} {total[backend]:.1f} s" for backend in names) + "; " + ", ".join(
            f"{backend} {total[reference] / total[backend]:.1f}x faster than sklearn" for backend in names
            if backend != reference))


if __name__ == "__main__":
    main()
