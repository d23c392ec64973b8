"""tfdisent-visualize: traversal grids, GIFs, reconstructions, KL chart and the Embedding Projector run.

The run directory is built without training (networks from ``build_architecture``, exported with
``export_saved_model``, ``config.json`` from ``TrainConfig``): the pictures only need the export
and the config. The projector is checked through the HTTP API of a real ``tensorboard`` process.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest
from command_check import run_in_one_process
from PIL import Image

from tfdisent.models import images as picture_images
from tfdisent.models import traversals as picture
from tfdisent.visualize import kl as kl_module
from tfdisent.visualize import projector, traversals

# One worker runs this module (pytest-xdist --dist loadgroup, setup.cfg): its module-scoped fixtures,
# which run binaries or train, then run once per session instead of once per worker.
pytestmark = [pytest.mark.xdist_group("visualize"), pytest.mark.heavy]

SHAPE = (64, 64, 1)
LATENT_DIM = 10
NUM_SAMPLES = 2
PROJECTOR_POINTS = 300
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")


def _make_run(run_dir, dataset, architecture, observation_shape, latent_dim, steps=100):
    from tfdisent.export import export_saved_model
    from tfdisent.models import build_architecture
    from tfdisent.training import TrainConfig

    os.makedirs(os.path.join(run_dir, "logs", "train"))
    TrainConfig(dataset=dataset, architecture=architecture, latent_dim=latent_dim, steps=steps).save(
        os.path.join(run_dir, "config.json"))
    encoder, decoder = build_architecture(architecture, observation_shape, latent_dim)
    export_saved_model(encoder, decoder, os.path.join(run_dir, "export"), observation_shape, latent_dim,
                       version=steps, metadata={"dataset": dataset, "step": steps})
    return run_dir


@pytest.fixture(scope="module")
def visualize_runs(tmp_path_factory):
    """tfdisent-visualize on a dSprites run directory, then on every UNUSABLE case, in ONE process
    (tests/command_check.py: one TensorFlow import); ``(run_dir, {case: result})``, case "run" the real run.
    The console script's own process is checked in test_cli_refusal_is_one_line_before_tensorflow_is_imported."""
    root = tmp_path_factory.mktemp("viz")
    run_dir = _make_run(str(root / "run"), "dsprites", "dlib_conv", SHAPE, LATENT_DIM)
    commands = [["tfdisent-visualize", f"--model_dir={run_dir}", f"--num_samples={NUM_SAMPLES}",
                 f"--projector_points={PROJECTOR_POINTS}", "--seed=1"]]
    (root / "unusable").mkdir()
    for case in UNUSABLE:
        case_dir, flags = _unusable_run_dir(root / "unusable", case)
        commands.append(["tfdisent-visualize", f"--model_dir={case_dir}", *flags])
    results, _ = run_in_one_process("run", commands, root)
    return run_dir, dict(zip(("run", *UNUSABLE), results))


@pytest.fixture(scope="module")
def visualized(visualize_runs):
    """The dSprites run directory after ``tfdisent-visualize``, and its summary."""
    run_dir, results = visualize_runs
    assert results["run"]["code"] == 0, results["run"]["stderr"][-3000:] + results["run"]["error"]
    with open(os.path.join(run_dir, "visualizations", "summary.json")) as f:
        return run_dir, json.load(f)


class FakeModel:
    """decode(z) -> images whose brightness is z[:, 0] squashed; records the codes it was given."""

    latent_dim = 3

    def __init__(self):
        self.codes = []

    def decode(self, z):
        self.codes.append(np.array(z))
        return np.broadcast_to(1 / (1 + np.exp(-z[:, :1, None, None])), (len(z), 8, 8, 1)).astype(np.float32)


# -- pure picture helpers ----------------------------------------------------------------------

def test_training_helpers_give_summary_ready_arrays():
    """The numpy helpers in tfdisent.models.traversals/images that training summaries can use."""
    images = np.random.RandomState(0).uniform(size=(6, 16, 12, 1)).astype(np.float32)
    grid = picture_images.traversal_grid(images, 2, [True, False], border=2, pad=1)
    assert grid.shape == (2 * (16 + 4 + 1) - 1, 3 * (12 + 4 + 1) - 1, 3) and grid.dtype == np.float32
    assert 0.0 <= grid.min() and grid.max() <= 1.0
    np.testing.assert_allclose(grid[0, 0], picture_images.ACTIVE_COLOUR)       # frame of an active row
    np.testing.assert_allclose(grid[-1, 0], picture_images.INACTIVE_COLOUR)    # frame of an inactive row
    pairs = picture_images.paired_grid(images, images, num_columns=3)
    assert pairs.shape == (2 * (16 + 2) - 2, 3 * (2 * 12 + 1 + 2) - 2, 3)
    assert picture_images.square_grid(images).shape == (2 * 17 - 1, 3 * 13 - 1, 3)
    np.testing.assert_array_equal(picture.kl_order([0.1, 3.0, 0.0, 1.0]), [1, 3, 0, 2])
    threshold = picture.ACTIVE_KL_THRESHOLD  # the boundary itself counts as active
    np.testing.assert_array_equal(picture.active_latents([threshold, 3.0, 0.0, threshold / 2]),
                                  [True, True, False, False])
    with pytest.raises(ValueError):
        picture_images.traversal_grid(images, 4, [True] * 4)


def test_traversal_image_sorts_rows_by_kl_and_marks_active_ones():
    model = FakeModel()
    kl = np.array([0.0, 2.0, 0.5])
    values = traversals.traversal_values(2.0, 5)
    image = traversals.traversal_image(model, np.zeros(3, np.float32), kl, values, threshold=0.1)
    assert image.shape[:2] == traversals.traversal_png_shape((8, 8, 1), 3, 5) and image.dtype == np.uint8
    codes = model.codes[0].reshape(3, 5, 3)  # rows: z1 (2.0 nats), z2 (0.5), z0 (0.0)
    np.testing.assert_allclose(codes[0, :, 1], values)
    np.testing.assert_allclose(codes[1, :, 2], values)
    np.testing.assert_allclose(codes[2, :, 0], values)
    row_height = 8 + 2 * traversals.BORDER + traversals.PAD
    corner = lambda row: image[traversals.HEADER_HEIGHT + row * row_height, traversals.LABEL_WIDTH]  # noqa: E731
    orange = np.round(np.array(picture_images.ACTIVE_COLOUR) * 255)
    grey = np.round(np.array(picture_images.INACTIVE_COLOUR) * 255)
    np.testing.assert_array_equal(corner(0), orange)
    np.testing.assert_array_equal(corner(1), orange)
    np.testing.assert_array_equal(corner(2), grey)


def test_animation_cycles_follow_disentanglement_lib():
    frames = 20
    gaussian = traversals.cycle_gaussian(0.0, frames)
    assert len(gaussian) == frames and gaussian[0] == pytest.approx(0.0, abs=1e-6)
    assert gaussian.max() == pytest.approx(3.09, abs=0.01) and gaussian.min() == pytest.approx(-3.09, abs=0.01)
    interval = traversals.cycle_interval(0.0, frames, -2.0, 2.0)
    assert interval[0] == pytest.approx(0.0, abs=1e-6)
    assert interval.max() == pytest.approx(2.0) and interval.min() == pytest.approx(-2.0)
    # one ping-pong period: the next frame after the last would be the first again
    assert abs(interval[-1] - interval[0]) == pytest.approx(4.0 * 2 / frames)
    rs = np.random.RandomState(0)
    means, logvars = rs.normal(1.0, 2.0, size=(500, 3)), np.full((500, 3), np.log(0.25))
    for kind in traversals.GIF_KINDS:
        codes = traversals.animation_codes(kind, means[0], means, logvars, frames)
        assert codes.shape == (3, frames, 3)
        for j in range(3):  # only latent j moves in block j
            others = np.delete(codes[j], j, axis=1)
            np.testing.assert_allclose(others, np.broadcast_to(np.delete(means[0], j), others.shape), rtol=1e-6)
    minmax = traversals.animation_codes("minmax_interval_cycle", means[0], means, logvars, frames)
    low, high = means[:, 1].min(), means[:, 1].max()
    path = minmax[1, :, 1]
    assert low - 1e-5 <= path.min() and path.max() <= high + 1e-5
    assert path.max() - path.min() >= 0.8 * (high - low)  # the cycle spans the range, up to the frame spacing
    with pytest.raises(ValueError, match="unknown animation"):
        traversals.animation_codes("spiral", means[0], means, logvars)
    video = traversals.animation_frames(FakeModel(), "fixed_interval_cycle", np.zeros(3, np.float32), means,
                                        logvars, np.array([1.0, 0.0, 0.3]), frames)
    assert video.shape[0] == frames and video.dtype == np.uint8
    assert len({frame.tobytes() for frame in video}) == frames  # the progress bar keeps frames distinct


def test_kl_per_dimension_and_chart():
    mean = np.array([[1.0, 0.0], [-1.0, 0.0]])
    logvar = np.array([[0.0, 0.0], [0.0, np.log(4.0)]])
    expected = [0.5, 0.5 * 0.5 * (4.0 - np.log(4.0) - 1.0)]
    np.testing.assert_allclose(kl_module.kl_per_dimension(mean, logvar), expected)
    chart = kl_module.kl_bar_chart(np.array([0.0, 2.0, 0.3]), width_px=500, height_px=300)
    assert chart.shape == (300, 500, 3) and chart.dtype == np.uint8
    assert (np.abs(chart.astype(int) - np.round(np.array(picture_images.ACTIVE_COLOUR) * 255)).sum(-1) < 4).any()


def test_sprite_and_metadata_limits(tmp_path):
    # Too many thumbnails for the limit at full size: they shrink (at the real 8192 px limit, 20,000 points
    # of 64 px become 57 px thumbnails).
    sheet, (width, height) = projector.sprite_image(np.zeros((100, 64, 64, 1), np.float32), max_pixels=512)
    assert max(sheet.shape[:2]) <= 512 and (width, height) == (51, 51) and sheet.shape == (510, 510, 3)
    sheet, (width, height) = projector.sprite_image(np.ones((10, 28, 28, 3), np.float32))
    assert sheet.shape == (4 * 28, 4 * 28, 3) and (width, height) == (28, 28)
    columns = projector.write_metadata_tsv(str(tmp_path / "one.tsv"), np.array([[2], [0]]), ["arm"])
    assert columns == ["index", "arm"]  # a single column would have to go without a header
    assert (tmp_path / "one.tsv").read_text() == "index\tarm\n0\t2\n1\t0\n"
    with pytest.raises(ValueError):
        projector.write_metadata_tsv(str(tmp_path / "bad.tsv"), np.zeros((2, 3)), ["a", "b"])


# -- the binary on a run directory -----------------------------------------------------------------

def test_visualize_writes_pictures_of_the_right_sizes(visualized):
    run_dir, summary = visualized
    out = os.path.join(run_dir, "visualizations")
    assert len(summary["kl_per_dimension"]) == LATENT_DIM
    assert sorted(summary["latents_by_kl"]) == list(range(LATENT_DIM))

    height, width = traversals.traversal_png_shape(SHAPE, LATENT_DIM, traversals.NUM_VALUES)
    cell = SHAPE[0] + 2 * traversals.BORDER + traversals.PAD
    assert (height - traversals.HEADER_HEIGHT + traversals.PAD) // cell == LATENT_DIM            # rows = latents
    assert (width - traversals.LABEL_WIDTH + traversals.PAD) // cell == traversals.NUM_VALUES     # columns = values
    for i in range(NUM_SAMPLES):
        with Image.open(os.path.join(out, "traversals", f"traversals{i}.png")) as image:
            assert image.size == (width, height) and image.mode == "RGB"

    gifs = sorted(os.listdir(os.path.join(out, "animated_traversals")))
    assert gifs == sorted(f"{kind}{i}.gif" for kind in traversals.GIF_KINDS for i in range(NUM_SAMPLES))
    for name in gifs:
        with Image.open(os.path.join(out, "animated_traversals", name)) as gif:
            assert gif.n_frames == traversals.NUM_FRAMES, name
            assert gif.info.get("loop") == 0

    with Image.open(os.path.join(out, "reconstructions.png")) as image:  # 64 pairs, 8 per row
        assert image.size == (8 * (2 * 64 + 1 + 2) - 2, 8 * (64 + 2) - 2)
    with Image.open(os.path.join(out, "prior_samples.png")) as image:
        assert image.size == (8 * 65 - 1, 8 * 65 - 1)
    with Image.open(os.path.join(out, "kl_per_dimension.png")) as image:
        assert image.size == (640, 360)


def test_projector_files_hold_the_encoder_means(visualized):
    import tensorflow as tf

    from tfdisent.data import load_dataset
    from tfdisent.visualize.exported import ExportedModel

    run_dir, summary = visualized
    run = os.path.join(run_dir, "logs", "projector")
    assert any(name.startswith("events.out.tfevents") for name in os.listdir(run))  # makes it a run
    with open(os.path.join(run, "metadata.tsv")) as f:
        rows = [line.rstrip("\n").split("\t") for line in f]
    dataset = load_dataset("dsprites")
    assert rows[0] == list(dataset.factor_names) and len(rows) == PROJECTOR_POINTS + 1
    factors, observations = dataset.sample(max(PROJECTOR_POINTS, 1000), np.random.RandomState(1))
    np.testing.assert_array_equal(np.int64(rows[1:]), factors[:PROJECTOR_POINTS])
    reader = tf.train.load_checkpoint(os.path.join(run, "embedding.ckpt-1"))
    embedding = reader.get_tensor(projector.TENSOR_NAME)
    assert embedding.shape == (PROJECTOR_POINTS, LATENT_DIM)
    mean, _ = ExportedModel(os.path.join(run_dir, "export", "100")).encode(observations[:PROJECTOR_POINTS])
    np.testing.assert_allclose(embedding, mean, rtol=1e-5, atol=1e-6)
    side = int(np.ceil(np.sqrt(PROJECTOR_POINTS)))
    with Image.open(os.path.join(run, "sprite.png")) as sprite:
        assert sprite.size == (side * 64, side * 64)
    config = open(os.path.join(run, "projector_config.pbtxt")).read()
    assert 'metadata_path: "metadata.tsv"' in config and 'image_path: "sprite.png"' in config
    assert os.path.abspath(run_dir) not in config  # relative paths: the run directory can move


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


def test_tensorboard_projector_sees_the_run(visualized):
    """The real tensorboard binary, headless on a free local port, queried over its HTTP API."""
    run_dir, _ = visualized
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    start = time.time()
    process = subprocess.Popen(["tensorboard", "--logdir", os.path.join(run_dir, "logs"), "--host", "127.0.0.1",
                                "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               env=ENV, start_new_session=True)
    try:
        enabled, listing = False, None
        while time.time() - start < 120 and not enabled:
            if process.poll() is not None:
                pytest.fail(f"tensorboard exited: {process.stderr.read().decode()[-2000:]}")
            try:  # the projector's is_active() is computed in the background: ask until it says yes
                listing = json.loads(_get(base + "/data/plugins_listing"))
                enabled = listing.get("projector", {}).get("enabled", False)
            except OSError:
                pass
            if not enabled:
                time.sleep(0.5)
        assert enabled, listing
        print(f"tensorboard projector ready after {time.time() - start:.1f} s")
        assert json.loads(_get(base + "/data/plugin/projector/runs")) == ["projector"]
        info = json.loads(_get(base + "/data/plugin/projector/info?run=projector"))
        (embedding,) = info["embeddings"]
        assert embedding["tensorName"] == projector.TENSOR_NAME
        assert embedding["tensorShape"] == [PROJECTOR_POINTS, LATENT_DIM]
        assert embedding["sprite"]["singleImageDim"] == [64, 64]
        name = urllib.request.quote(projector.TENSOR_NAME)
        metadata = _get(f"{base}/data/plugin/projector/metadata?run=projector&name={name}&num_rows=5").decode()
        assert metadata.splitlines()[0].split("\t") == ["shape", "scale", "orientation", "pos_x", "pos_y"]
        assert len(metadata.splitlines()) == 6
        tensor = _get(f"{base}/data/plugin/projector/tensor?run=projector&name={name}&num_rows={PROJECTOR_POINTS}")
        assert len(tensor) == PROJECTOR_POINTS * LATENT_DIM * 4
        assert set(json.loads(_get(base + "/data/runs"))) >= {"projector"}
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the process group: tensorboard and its data server
        process.wait(timeout=30)


def test_non_image_run_gets_kl_chart_and_projector_only(tmp_path):
    from tfdisent.visualize.visualize_model import visualize_run

    run_dir = _make_run(str(tmp_path / "run"), "pinwheel", "mlp", (2,), 3)
    summary = visualize_run(run_dir, projector_points=50, num_samples=1)
    assert summary["files"]["traversals"] == [] and summary["files"]["animations"] == []
    assert os.path.exists(summary["files"]["kl_chart"])
    run = os.path.join(run_dir, "logs", "projector")
    assert not os.path.exists(os.path.join(run, "sprite.png"))
    with open(os.path.join(run, "metadata.tsv")) as f:
        lines = f.read().splitlines()
    assert lines[0] == "index\tarm" and len(lines) == 51
    assert "sprite" not in open(os.path.join(run, "projector_config.pbtxt")).read()


UNUSABLE = {"missing": "does not exist", "not_a_run": "no config.json", "bad_config": "not valid JSON",
            "no_export": "has no exported SavedModel", "bad_version": "versions present: [5]"}


def _unusable_run_dir(root, case):
    """A run directory that tfdisent-visualize must refuse, and the extra flags of the case."""
    run_dir = root / case
    flags = []
    if case != "missing":
        run_dir.mkdir()
    if case == "bad_config":
        (run_dir / "config.json").write_text("{not json")
    if case in ("no_export", "bad_version"):
        (run_dir / "config.json").write_text(json.dumps({"dataset": "dsprites"}))
    if case == "bad_version":
        (run_dir / "export" / "5").mkdir(parents=True)
        (run_dir / "export" / "5" / "saved_model.pb").write_bytes(b"")
        flags = ["--export_version=7"]
    return run_dir, flags


@pytest.fixture(scope="module")
def unusable(visualize_runs):
    """Every UNUSABLE case's result (run in the one process of :func:`visualize_runs`)."""
    return {case: result for case, result in visualize_runs[1].items() if case != "run"}


@pytest.mark.parametrize("case", sorted(UNUSABLE))
def test_cli_rejects_unusable_run_dirs_in_one_line(unusable, case):
    result = unusable[case]
    assert result["code"] == 2 and result["error"] == "exit 2", result
    lines = result["stderr"].strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tfdisent-visualize: error: "), result["stderr"]
    assert UNUSABLE[case] in lines[0]


def test_cli_refusal_is_one_line_before_tensorflow_is_imported(tmp_path):
    """The real console script's process: exit 2, its whole stderr one line, decided before TensorFlow is
    imported (the other cases run in one process above)."""
    run_dir, flags = _unusable_run_dir(tmp_path, "bad_version")
    # The module runs as the console script does (``__main__``); at exit the process reports on stdout
    # whether TensorFlow was ever imported.
    probe = ("import atexit, runpy, sys; "
             "atexit.register(lambda: print('tensorflow imported:', 'tensorflow' in sys.modules)); "
             "sys.argv[0] = 'tfdisent-visualize'; runpy.run_module('tfdisent.bin.visualize', run_name='__main__')")
    result = subprocess.run([sys.executable, "-c", probe, f"--model_dir={run_dir}"] + flags,
                            capture_output=True, text=True, timeout=120, env=ENV)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tfdisent-visualize: error: "), result.stderr
    assert UNUSABLE["bad_version"] in lines[0]
    assert result.stdout.strip() == "tensorflow imported: False"


@pytest.mark.slow
def test_real_training_run_then_visualize(tmp_path):
    """A real 100-step tfdisent-train run through tfdisent-visualize (about a minute on a busy CPU)."""
    run_dir = str(tmp_path / "run")
    train = subprocess.run(["tfdisent-train", "--steps=100", "--log_every=50", "--image_every=0",
                            f"--output_dir={run_dir}"], capture_output=True, text=True, timeout=600, env=ENV)
    assert train.returncode == 0, train.stderr[-3000:]
    result = subprocess.run([sys.executable, "-m", "tfdisent.bin.visualize", f"--model_dir={run_dir}",
                             "--num_samples=1", "--projector_points=100", "--nogifs"],
                            capture_output=True, text=True, timeout=600, env=ENV)
    assert result.returncode == 0, result.stderr[-3000:]
    assert os.path.exists(os.path.join(run_dir, "visualizations", "traversals", "traversals0.png"))
    assert not os.path.exists(os.path.join(run_dir, "visualizations", "animated_traversals"))
    assert os.path.exists(os.path.join(run_dir, "logs", "projector", "metadata.tsv"))
