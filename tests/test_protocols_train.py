"""tfdisent-train's protocol flags (correlated factors, held-out splits) and the Trainer's training distribution."""

import json
import os

import numpy as np
import pytest
from absl import flags

from tfdisent.bin import train as train_bin
from tfdisent.data.correlated import CorrelatedFactors
from tfdisent.data.subset import IndexedSubset
from tfdisent.training import RunConfigError, TrainConfig, Trainer

FAST = dict(batch_size=16, log_every=2, image_every=0, checkpoint_every=3, checkpoint_secs=3600, eval_batches=1,
            export=False, steps=3)


@pytest.fixture
def parse():
    def parse(*args):
        flags.FLAGS.unparse_flags()
        flags.FLAGS(["tfdisent-train", *args])

    yield parse
    flags.FLAGS.unparse_flags()


def test_protocol_flags_reach_the_config(parse, tmp_path):
    parse("--correlated_factors=pos_x:pos_y,shape:scale", "--correlation_strength=0.2")
    config = train_bin._make_config(str(tmp_path / "run"))
    assert config.correlated_factors == ["pos_x:pos_y", "shape:scale"] and config.correlation_strength == 0.2
    parse("--heldout_split=extrapolation", "--heldout_train_fraction=0.4", "--heldout_seed=3")
    config = train_bin._make_config(str(tmp_path / "run"))
    assert (config.heldout_split, config.heldout_train_fraction, config.heldout_seed) == ("extrapolation", 0.4, 3)
    parse("--correlated_factors=0:1", "--correlation_strength=inf")
    assert train_bin._make_config(str(tmp_path / "run")).correlation_strength == float("inf")


@pytest.mark.parametrize("args, message", [
    (["--correlated_factors=pos_x:pos_y"], "go together"),
    (["--correlation_strength=0.3"], "go together"),
    (["--correlated_factors=pos_x:pos_y", "--correlation_strength=0"], "must be > 0"),
    (["--correlated_factors=pos_x:pos_y", "--correlation_strength=-1"], "must be > 0"),
    (["--correlated_factors=pos_x:pos_y", "--correlation_strength=strong"], "must be a number"),
    (["--heldout_split=diagonal"], "--heldout_split must be one of"),
    (["--heldout_split=random", "--heldout_train_fraction=1.5"], "must be in (0, 1)"),
    (["--heldout_split=random", "--correlated_factors=pos_x:pos_y", "--correlation_strength=0.2"],
     "cannot be combined"),
])
def test_bad_protocol_flags_are_one_line_exit_2(parse, tmp_path, capsys, args, message):
    parse(*args)
    with pytest.raises(SystemExit) as exit_info:
        train_bin._make_config(str(tmp_path / "run"))
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tfdisent-train: error:") and message in lines[0], lines
    assert not (tmp_path / "run").exists()


def test_unknown_factor_is_refused_before_anything_is_written(tmp_path):
    config = TrainConfig(method="beta_vae", correlated_factors=["pos_x:colour"], correlation_strength=0.2, **FAST)
    with pytest.raises(ValueError, match="'colour' .* is not a factor of the dataset"):
        Trainer(config, str(tmp_path / "run"))
    assert not (tmp_path / "run").exists()
    with pytest.raises(RunConfigError, match="go together"):
        TrainConfig(correlated_factors=["pos_x:pos_y"]).validate()


def test_correlated_training_runs_and_evaluation_sees_the_full_grid(tmp_path):
    config = TrainConfig(method="beta_vae", correlated_factors=["pos_x:pos_y"], correlation_strength=0.1, **FAST)
    trainer = Trainer(config, str(tmp_path / "run"))
    assert isinstance(trainer.training_data, CorrelatedFactors) and trainer.training_data.pairs == ((3, 4),)
    assert not isinstance(trainer.dataset, CorrelatedFactors)  # metrics and callbacks: the uncorrelated grid
    assert trainer.training_data.tf_batch_fn() is not None  # dSprites keeps its in-graph batches
    results = trainer.train()
    assert results["step"] == 3 and np.isfinite(results["train"]["loss"])
    saved = json.load(open(os.path.join(tmp_path, "run", "config.json")))
    assert saved["correlated_factors"] == ["pos_x:pos_y"] and saved["correlation_strength"] == 0.1
    assert results["training_data"] == "dsprites_correlated"
    # The recorded protocol is part of the run's identity: another strength cannot resume it.
    other = TrainConfig(method="beta_vae", correlated_factors=["pos_x:pos_y"], correlation_strength=0.4, **FAST)
    with pytest.raises(RunConfigError, match="correlation_strength"):
        Trainer(other, str(tmp_path / "run"))


def test_heldout_training_uses_the_train_part(tmp_path):
    config = TrainConfig(method="beta_vae", heldout_split="extrapolation", **FAST)
    trainer = Trainer(config, str(tmp_path / "run"))
    assert isinstance(trainer.training_data, IndexedSubset)
    assert round(trainer.training_data.num_examples / trainer.dataset.num_examples, 1) == 0.3
    assert trainer.model.dataset_size == trainer.training_data.num_examples
    assert np.isfinite(trainer.train()["train"]["loss"])
