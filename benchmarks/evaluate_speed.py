"""Times every metric of ``tfdisent.metrics`` at its default (disentanglement_lib study) settings.

The representation is synthetic and cheap (so the table shows the metrics' own cost, not an
encoder's): a partly entangled 10-dimensional code of a dSprites-like factor grid (sizes
3, 6, 40, 32, 32 — the classes that drive the tree fits), from
``tfdisent.metrics.synthetic.SyntheticRepresentation(kind="mixed", noise_dims=5)`` over
``IdentityObservations``. UDR compares 5 such models. DCI is timed three ways — scikit-learn's
trees sequentially and with all cores, and the default ``exact`` backend (our exact
re-implementation; ``benchmarks/dci_speed.py`` compares the two in detail) — and the table gives
the exact backend's deviation from scikit-learn's scores. Finally all single-model metrics
run once more sharing one ``SampleCache``, as ``tfdisent-evaluate`` does.

    python benchmarks/evaluate_speed.py                  # full defaults, ~10-20 min on 2 cores
    python benchmarks/evaluate_speed.py --quick          # sizes / 10, ~1 min
    python benchmarks/evaluate_speed.py --metrics=dci --dci_seeds=3
    python benchmarks/evaluate_speed.py --dci_es_variants \
        --metrics=mig_sup,dcimig,jemmig,infomec,mcc,dci_es,flatness,factored_components  # issue 20's metrics
    python benchmarks/evaluate_speed.py --suite             # the full default suite, as tfdisent-evaluate
    python benchmarks/evaluate_speed.py --suite --quick     #   runs it, on the synthetic code and on a
                                                            #   dlib_conv encoder (random-init export)

``--suite`` times ``tfdisent.evaluation.evaluate.run_metrics`` over ``--metrics=all`` (every
single-model metric, one seed per metric, no shared samples) twice: on the synthetic code above,
and on a random-init ``dlib_conv`` encoder (64x64x1, d = 10) exported with ``export_saved_model``
and read back through the evaluator's ``GaussianEncoder`` over procedural dSprites, so encoding
and rendering costs show. Throughput does not depend on the weights; the scores of a random
encoder mean nothing.

Measured on the shared 2-core development box (other jobs running; expect 2x swings), full
defaults, seed 0 (DCI rows: mean of seeds 0 and 1):

    metric                         seconds  notes
    beta_vae                           3.2  1.92M observations encoded, features vectorised
    factor_vae                         0.6
    mig                                0.1
    dci (sklearn, n_jobs=1)          248.2  the reference's estimator, one core
    dci (sklearn, all cores)         194.7  factors in 2 processes (144 s when the box was idle)
    (the retired ``hist`` backend took 24.4 s here; the ``exact`` backend that replaced it:
    see BUILD_NOTES "Exact DCI" and benchmarks/dci_speed.py)
    sap                                0.5
    modularity_explicitness            0.8
    irs                                0.0
    unsupervised                       0.2
    downstream                       186.3  both predictors, n in (10, 100, 1000, 10000)
    udr (5 models)                     0.1
    all of 9 with shared samples     331.6  7 sample draws reused

Modern metrics (issue 20; same code and box, load average 15-22, so slower than the rows above):
mig_sup, dcimig, jemmig 0.5 s each, infomec 21.3, mcc 0.9, dci_es 9.7 (10 trees; 71.4 with the reference's
100; 262.7 for the MLP family), flatness 0.4, factored_components 4.7 (BUILD_NOTES "Modern metrics").
DCI-ES probe families side by side (AMD EPYC, load average 7-8): forests 18.0 s, RFF (16-1024 features, SAGE)
45.1 s, MLP (widths 0-243, SAGE) 83.5 s; SAGE of one fitted probe 0.3-1.8 s, 0.1-0.4x the time of permutation
importance on the same probe (``time_importances``).

With a real encoder the encoding dominates instead: a dlib_conv encoder encodes ~6,400 64x64
images/s on this box whatever the batch size, so beta_vae (1.92M images) takes ~5 min and
factor_vae (0.97M) ~2.5 min, while the other metrics share 15,000 encodings (~2.5 s).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

# This checkout's tfdisent, not an installed copy (python puts benchmarks/ first on the path).
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tfdisent import metrics  # noqa: E402
from tfdisent.data.synthetic import IdentityObservations  # noqa: E402
from tfdisent.metrics.synthetic import SyntheticGaussianEncoder, SyntheticRepresentation  # noqa: E402

DSPRITES_LIKE = (3, 6, 40, 32, 32)


def representation(seed: int = 0, **kwargs):
    return SyntheticRepresentation(DSPRITES_LIKE, "mixed", noise_dims=5, mixing=0.3, noise_scale=0.5,
                                   seed=seed, **kwargs)


def shrink(name: str, factor: int) -> dict:
    """Default sizes divided by ``factor`` (for --quick)."""
    if factor == 1:
        return {}
    settings = metrics.default_settings(name)
    overrides = {}
    for key in ("num_train", "num_eval", "num_test", "num_variance_estimate", "num_data_points"):
        if key in settings:
            value = settings[key]
            overrides[key] = (tuple(sorted({max(10, v // factor) for v in value})) if isinstance(value, tuple)
                              else max(20, value // factor))
    return overrides


def timed(function):
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metrics", default="all", help="comma list of metrics (default all)")
    parser.add_argument("--quick", action="store_true", help="divide every sample size by 10")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dci_seeds", type=int, default=1,
                        help="evaluate the DCI backend deviation over this many seeds")
    parser.add_argument("--dci_es_variants", action="store_true",
                        help="time dci_es with 10 trees (default), 100 trees (reference), the MLP and the RFF "
                             "family, and SAGE against permutation importance")
    parser.add_argument("--dci_es_only", default="forest10,forest100,mlp,rff",
                        help="with --dci_es_variants: which of forest10, forest100, mlp, rff to run")
    parser.add_argument("--suite", action="store_true",
                        help="time the whole default suite on the synthetic code and on a dlib_conv encoder")
    args = parser.parse_args()
    if args.suite:
        return time_suite(10 if args.quick else 1, args.seed)
    factor = 10 if args.quick else 1
    names = metrics.metric_names() if args.metrics == "all" else args.metrics.split(",")
    dataset = IdentityObservations(DSPRITES_LIKE)
    rows = []

    for name in names:
        if name == "udr":
            models = [SyntheticGaussianEncoder(representation(seed=s)) for s in range(5)]
            _, seconds = timed(lambda: metrics.compute("udr", dataset, models, np.random.RandomState(args.seed),
                                                       **shrink("udr", factor)))
            rows.append(("udr (5 models)", seconds, ""))
        elif name == "dci":
            deviations = {}
            times = {"sklearn, n_jobs=1": 0.0, "sklearn, all cores": 0.0, "exact, all cores": 0.0}
            for offset in range(args.dci_seeds):
                seed = args.seed + offset
                variants = {"sklearn, n_jobs=1": {"n_jobs": 1, "backend": "sklearn"},
                            "sklearn, all cores": {"backend": "sklearn"}, "exact, all cores": {}}
                results = {}
                for label, extra in variants.items():
                    results[label], seconds = timed(lambda: metrics.compute(
                        "dci", dataset, representation(), np.random.RandomState(seed),
                        **shrink("dci", factor), **extra))
                    times[label] += seconds / args.dci_seeds
                for key, value in results["sklearn, all cores"].items():
                    deviations.setdefault(key, []).append(results["exact, all cores"][key] - value)
                print(f"dci seed {seed}: " + "; ".join(
                    f"{label}: " + ", ".join(f"{k}={v:.4f}" for k, v in result.items())
                    for label, result in results.items()), flush=True)
            for label, seconds in times.items():
                rows.append((f"dci ({label})", seconds, ""))
            rows[-1] = (rows[-1][0], rows[-1][1], "exact - sklearn: " + ", ".join(
                f"{key} {np.mean(values):+.4f} (max |{np.max(np.abs(values)):.4f}|)"
                for key, values in deviations.items()))
        elif name == "dci_es" and args.dci_es_variants:
            # The default (random forests of 10 trees), the reference's 100 trees, and the MLP family.
            variants = {"forest10": ("forest, 10 trees", {}),
                        "forest100": ("forest, 100 trees (reference)", {"n_estimators": 100}),
                        "mlp": ("mlp, widths 0-243, SAGE", {"family": "mlp"}),
                        "rff": ("rff, 16-1024 features, SAGE", {"family": "rff"})}
            for key in args.dci_es_only.split(","):
                label, extra = variants[key]
                result, seconds = timed(lambda: metrics.compute("dci_es", dataset, representation(),
                                                                np.random.RandomState(args.seed),
                                                                **shrink(name, factor), **extra))
                rows.append((f"dci_es ({label})", seconds, f"E={result['explicitness']:.3f} "
                             f"I={result['informativeness_test']:.3f} D={result['disentanglement']:.3f}"))
                print(f"{rows[-1][0]}: {rows[-1][1]:.1f} s", flush=True)
            rows.extend(time_modern_estimators(dataset, args.seed))
            rows.extend(time_importances(dataset, args.seed))
            continue
        else:
            _, seconds = timed(lambda: metrics.compute(name, dataset, representation(),
                                                       np.random.RandomState(args.seed), **shrink(name, factor)))
            rows.append((name, seconds, ""))
        print(f"{rows[-1][0]}: {rows[-1][1]:.1f} s", flush=True)

    single = [name for name in names if name != "udr"]
    if len(single) > 1:
        cache = metrics.SampleCache()
        shared_representation = representation()
        start = time.perf_counter()
        for name in single:
            metrics.compute(name, dataset, shared_representation, np.random.RandomState(args.seed), cache=cache,
                            **shrink(name, factor))
        rows.append((f"all of {len(single)} with shared samples", time.perf_counter() - start,
                     f"{cache.hits} sample draws reused"))

    width = max(len(row[0]) for row in rows)
    print(f"\n{'metric':<{width}}  {'seconds':>8}  notes")
    print("-" * (width + 20))
    for label, seconds, note in rows:
        print(f"{label:<{width}}  {seconds:8.1f}  {note}")


def time_modern_estimators(dataset, seed: int) -> list:
    """Side by side on the same codes: DCI-ES's one cut forest per factor against one scikit-learn
    forest per depth (the reference's procedure), and ``utils.knn_mutual_information`` against
    scikit-learn's ``mutual_info_classif`` (InfoMEC's estimator)."""
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.feature_selection import mutual_info_classif

    from tfdisent.metrics import dci_es, utils

    codes, factors, codes_test, factors_test = utils.train_test_codes(
        dataset, representation(), np.random.RandomState(seed), {"num_train": 10000, "num_test": 5000,
                                                               "batch_size": 16})
    target, target_test = factors[:, 1] / 5.0, factors_test[:, 1] / 5.0  # scale (6 values)
    depths = dci_es.REFERENCE_FOREST_DEPTHS
    rows = []
    _, cut = timed(lambda: dci_es._fit_forest_curve(depths, False, 10, codes, target, codes_test, target_test,
                                                    dci_es.grid_variance(6)))
    _, separate = timed(lambda: [RandomForestRegressor(n_estimators=10, max_depth=d, random_state=0, n_jobs=1)
                                 .fit(codes, target).predict(codes_test) for d in depths])
    rows.append(("dci_es forest curve, 1 factor: cut forest", cut,
                 f"one forest per depth {separate:.1f} s: {separate / cut:.1f}x"))
    _, ours = timed(lambda: [utils.knn_mutual_information(codes, factors[:, k], 10, 0) for k in range(5)])
    _, sklearn = timed(lambda: [mutual_info_classif(codes, factors[:, k], discrete_features=False, n_neighbors=10,
                                                    random_state=0) for k in range(5)])
    rows.append(("infomec kNN MI, 5 factors x 10 codes", ours, f"mutual_info_classif {sklearn:.1f} s: "
                 f"{sklearn / ours:.1f}x"))
    for row in rows:
        print(f"{row[0]}: {row[1]:.1f} s ({row[2]})", flush=True)
    return rows


def time_importances(dataset, seed: int) -> list:
    """Side by side on the same fitted probes (the default sample sizes): SAGE values (the
    reference's settings: 32 background rows, batches of 128 permutations, threshold 0.1) against
    permutation importance (3 repeats, ``dci_es.permutation_importance``) for DCI-ES's D and C — an
    RFF probe of 1024 features and an MLP probe of width 47, each on one continuous and one
    categorical factor."""
    from tfdisent.metrics import dci_es, utils

    codes, factors, codes_test, factors_test = utils.train_test_codes(
        dataset, representation(), np.random.RandomState(seed), {"num_train": 10000, "num_test": 5000,
                                                               "batch_size": 16})
    mean, std = codes.mean(axis=0), codes.std(axis=0)
    x, x_test = (codes - mean) / std, (codes_test - mean) / std
    rows = []
    for family, capacity in (("rff", 1024), ("mlp", 47)):
        for k, discrete in ((0, True), (1, False)):
            size = DSPRITES_LIKE[k]
            scale = 1.0 if discrete else size - 1.0
            y, y_test = factors[:, k] / scale, factors_test[:, k] / scale
            if discrete:
                y, y_test = factors[:, k], factors_test[:, k]
            variance = 1.0 if discrete else dci_es.grid_variance(size)
            (_, _, model, _), fit = timed(lambda: dci_es.fit_network_probe(
                family, capacity, discrete, size, {"mlp_epochs": 50, "rff_sigma": 0.08, "rff_max_iter": 200},
                x, y, x_test, y_test, variance))
            sage, sage_seconds = timed(lambda: dci_es.probe_importance(model, discrete, size, "sage", 0.1, 2048,
                                                                        x_test, y_test))
            permutation, permutation_seconds = timed(lambda: dci_es.probe_importance(
                model, discrete, size, "permutation", 0.1, 2048, x_test, y_test))
            rows.append((f"{family} {capacity}, factor {k} ({'categorical' if discrete else 'continuous'}): SAGE",
                         sage_seconds, f"permutation {permutation_seconds:.1f} s "
                         f"({sage_seconds / permutation_seconds:.1f}x); "
                         f"probe fit {fit:.1f} s; top code SAGE {int(np.argmax(sage))} "
                         f"({sage.max():.2f}) permutation {int(np.argmax(permutation))} ({permutation.max():.2f})"))
            print(f"{rows[-1][0]}: {rows[-1][1]:.1f} s ({rows[-1][2]})", flush=True)
    return rows


def time_suite(factor: int, seed: int) -> None:
    """The full default suite as ``tfdisent-evaluate --metrics=all`` runs it, synthetic code vs encoder."""
    import tempfile

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from tfdisent.evaluation import evaluate

    names = evaluate.expand_metric_names("all", 1)
    overrides = {name: shrink(name, factor) for name in names if shrink(name, factor)}
    rows = []

    def run(label, dataset, representation_fn):
        start = time.perf_counter()
        results = evaluate.run_metrics(dataset, names, seed, representation_fn=representation_fn,
                                       overrides=overrides, progress=lambda message: print(message, flush=True))
        total = time.perf_counter() - start
        slowest = sorted(results.items(), key=lambda item: -item[1]["wall_time_seconds"])[:4]
        rows.append((label, total, ", ".join(f"{name} {entry['wall_time_seconds']:.0f}" for name, entry in slowest)))

    run(f"suite of {len(names)} on the synthetic code", IdentityObservations(DSPRITES_LIKE), representation())

    from tfdisent.data import load_dataset
    from tfdisent.evaluation.representation import GaussianEncoder, mean_representation
    from tfdisent.export import export_saved_model
    from tfdisent.models import build_architecture

    encoder, decoder = build_architecture("dlib_conv", (64, 64, 1), 10)
    encoder(np.zeros((1, 64, 64, 1), np.float32))
    decoder(np.zeros((1, 10), np.float32))
    export = export_saved_model(encoder, decoder, tempfile.mkdtemp(prefix="evaluate_speed_"), (64, 64, 1), 10,
                                version=1, warmup=False)
    run(f"suite of {len(names)} on a dlib_conv encoder (dsprites)", load_dataset("dsprites"),
        mean_representation(GaussianEncoder(export, (64, 64, 1))))

    width = max(len(row[0]) for row in rows)
    print(f"\n{'suite' + (' (sizes / %d)' % factor if factor > 1 else ''):<{width}}  {'seconds':>8}  slowest metrics (s)")
    print("-" * (width + 40))
    for label, seconds, note in rows:
        print(f"{label:<{width}}  {seconds:8.1f}  {note}")
    print(f"encoder / synthetic: {rows[1][1] / rows[0][1]:.2f}x")


if __name__ == "__main__":
    main()
