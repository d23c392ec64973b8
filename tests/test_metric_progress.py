"""Metric progress during training: scores logged as TensorBoard scalars at every evaluation."""

import glob
import os

import pytest
import tensorflow as tf

from tfdisent import metrics
from tfdisent.evaluation.progress import metric_progress_callback
from tfdisent.training import TrainConfig, Trainer


def _scalars(logdir):
    values = {}
    for path in glob.glob(os.path.join(logdir, "events.out.tfevents*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.tag.startswith("metrics/"):
                    values.setdefault(value.tag, []).append((event.step, float(tf.make_ndarray(value.tensor))))
    return values


def test_progress_metrics_are_logged_at_every_evaluation(tmp_path):
    callback = metric_progress_callback(["mig", "unsupervised"], seed=0,
                                        overrides={"mig": {"num_train": 300}, "unsupervised": {"num_train": 300}})
    config = TrainConfig(steps=10, batch_size=16, log_every=5, image_every=0, checkpoint_every=5, eval_batches=2,
                         export=False)
    Trainer(config, str(tmp_path / "run"), callbacks=[callback], eval_every=5).train()
    scalars = _scalars(str(tmp_path / "run" / "logs" / "train"))
    assert [step for step, _ in scalars["metrics/mig/discrete_mig"]] == [5, 10]
    assert "metrics/unsupervised/gaussian_total_correlation" in scalars
    assert all(0.0 <= v <= 1.0 for _, v in scalars["metrics/mig/discrete_mig"])


def test_progress_callback_rejects_bad_names_at_once():
    with pytest.raises(metrics.MetricError):
        metric_progress_callback(["nope"])
    with pytest.raises(metrics.MetricError):
        metric_progress_callback(["mig"], overrides={"mig": {"nope": 1}})
    with pytest.raises(metrics.MetricError, match="several models"):
        metric_progress_callback(["udr"])


@pytest.mark.xdist_group("cli_refusals")   # conftest.cli_refusals: one worker, one run
@pytest.mark.heavy
def test_cli_eval_metrics_flag_errors_are_one_line(cli_refusals):
    result = cli_refusals[1]["eval_metrics_nope"]   # tfdisent-train --eval_metrics=nope (tests/conftest.py)
    assert result["code"] == 2 and "unknown metric" in result["stderr"]
    assert "Traceback" not in result["stderr"] + result["error"]
