"""disentanglement_lib's released models: TF1 Hub modules evaluated and pictured directly (issue 12).

The module is built here with ``tf.compat.v1`` in the released layout: ``<model>/model/tfhub/`` holds a
SavedModel with two graphs (tags ``{"train"}`` and the default empty set) carrying the signatures
``gaussian_encoder`` (images -> mean, logvar), ``decoder`` (latent_vectors -> images, as logits) and
``reconstructions``, plus ``tfhub_module.pb``; ``<model>/model/results/gin/train.gin`` names the dataset.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

# One worker runs this module (pytest-xdist --dist loadgroup, setup.cfg): its module-scoped fixtures,
# which run binaries or train, then run once per session instead of once per worker.
pytestmark = [pytest.mark.xdist_group("tf1_hub"), pytest.mark.heavy]

LATENT_DIM = 4
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")


def _weights():
    rs = np.random.RandomState(0)
    return rs.randn(64, LATENT_DIM).astype(np.float32), rs.randn(LATENT_DIM, 64 * 64).astype(np.float32)


def build_dlib_module(model_dir: str, dataset: str = "dummy") -> str:
    import tensorflow as tf

    v1 = tf.compat.v1
    hub_dir = os.path.join(model_dir, "model", "tfhub")
    encoder_w, decoder_w = _weights()
    builder = v1.saved_model.Builder(hub_dir)
    for tags in (["train"], []):
        graph = tf.Graph()
        with graph.as_default():
            images = v1.placeholder(tf.float32, [None, 64, 64, 1], name="images")
            w = v1.get_variable("encoder/w", initializer=encoder_w)
            mean = tf.matmul(tf.reshape(tf.nn.avg_pool2d(images, 8, 8, "VALID"), [-1, 64]) - 0.5, w) * 8.0
            logvar = tf.fill(tf.shape(mean), -2.0)
            z = v1.placeholder(tf.float32, [None, LATENT_DIM], name="latent_vectors")
            wd = v1.get_variable("decoder/w", initializer=decoder_w)
            logits = tf.reshape(tf.matmul(z, wd), [-1, 64, 64, 1])
            info = v1.saved_model.utils.build_tensor_info
            build = v1.saved_model.signature_def_utils.build_signature_def
            signatures = {
                "gaussian_encoder": build({"images": info(images)}, {"mean": info(mean), "logvar": info(logvar)}),
                "decoder": build({"latent_vectors": info(z)}, {"images": info(logits)}),
                "reconstructions": build({"images": info(images)},
                                         {"images": info(tf.reshape(tf.matmul(mean, wd), [-1, 64, 64, 1]))}),
            }
            with v1.Session(graph=graph) as session:
                session.run(v1.global_variables_initializer())
                if tags:
                    builder.add_meta_graph_and_variables(session, tags, signature_def_map=signatures)
                else:
                    builder.add_meta_graph(tags, signature_def_map=signatures)
    builder.save()
    with open(os.path.join(hub_dir, "tfhub_module.pb"), "wb") as stream:
        stream.write(b"\x08\x03")  # hub's ModuleDef {format: FORMAT_V3}
    gin_dir = os.path.join(model_dir, "model", "results", "gin")
    os.makedirs(gin_dir)
    with open(os.path.join(gin_dir, "train.gin"), "w") as stream:
        stream.write(f"dataset.name = '{dataset}'\nreconstruction_loss.activation = 'logits'\n"
                     "model.name = 'beta_tc_vae'\n")
    return hub_dir


@pytest.fixture(scope="module")
def dlib_model(tmp_path_factory):
    model_dir = str(tmp_path_factory.mktemp("dlib") / "1350")
    hub_dir = build_dlib_module(model_dir)
    return model_dir, hub_dir


def test_layout_finds_the_module_and_its_dataset(dlib_model):
    from tfdisent.export.layout import dlib_dataset_name, find_tf1_hub_module

    model_dir, hub_dir = dlib_model
    for path in (model_dir, os.path.join(model_dir, "model"), hub_dir):
        assert find_tf1_hub_module(path) == hub_dir
    assert dlib_dataset_name(hub_dir) == "dummy"
    assert find_tf1_hub_module(os.path.dirname(model_dir)) is None


def test_gaussian_encoder_reads_the_module(dlib_model):
    import tensorflow as tf

    from tfdisent.evaluation.representation import GaussianEncoder

    model_dir, hub_dir = dlib_model
    encoder = GaussianEncoder(model_dir, (64, 64, 1), batch_size=3)
    assert encoder.path == hub_dir and encoder.is_tf1_hub and encoder.latent_dim == LATENT_DIM
    images = np.random.RandomState(1).uniform(size=(7, 64, 64, 1)).astype(np.float32)
    mean, logvar = encoder.encode(images)
    pooled = tf.reshape(tf.nn.avg_pool2d(images, 8, 8, "VALID"), [-1, 64]).numpy()
    np.testing.assert_allclose(mean, (pooled - 0.5) @ _weights()[0] * 8.0, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(logvar, -2.0)


def test_evaluate_cli_scores_the_module_with_the_dataset_from_its_gin(dlib_model, tmp_path):
    model_dir, hub_dir = dlib_model
    output = tmp_path / "dlib.json"
    result = subprocess.run(
        [sys.executable, "-m", "tfdisent.bin.evaluate", f"--model_dir={model_dir}", "--metrics=mig,fairness",
         f"--output_file={output}", "--metric_override=*.num_train=100", "--metric_override=*.n_jobs=1",
         "--metric_override=fairness.num_test_points_per_class=4", "--metric_override=fairness.gbt_backend=exact"],
        capture_output=True, text=True, timeout=300, env=ENV)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(output.read_text())
    assert report["dataset"] == "dummy" and report["model_path"] == hub_dir
    assert np.isfinite(report["metrics"]["mig"]["discrete_mig"])
    assert "mean_fairness:mean_pred:mean_sens" in report["metrics"]["fairness"]


def test_visualize_draws_the_module(dlib_model, tmp_path):
    from tfdisent.visualize.exported import ExportedModel
    from tfdisent.visualize.visualize_model import visualize_run

    model_dir, hub_dir = dlib_model
    model = ExportedModel(hub_dir)
    assert model.observation_shape == (64, 64, 1) and model.latent_dim == LATENT_DIM
    z = np.random.RandomState(2).randn(3, LATENT_DIM).astype(np.float32)
    expected = 1.0 / (1.0 + np.exp(-(z @ _weights()[1]).reshape(3, 64, 64, 1)))
    np.testing.assert_allclose(model.decode(z), expected, rtol=1e-4, atol=1e-5)
    summary = visualize_run(model_dir, str(tmp_path / "pictures"), num_samples=1, projector_points=0, gifs=False)
    assert summary["dataset"] == "dummy" and len(summary["kl_per_dimension"]) == LATENT_DIM
    for name in ("kl_per_dimension.png", "reconstructions.png", "prior_samples.png",
                 os.path.join("traversals", "traversals0.png")):
        assert os.path.getsize(tmp_path / "pictures" / name) > 0
