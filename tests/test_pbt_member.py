"""PBT members on the library's Trainer (no Ray): the exploit (a bottom member ends with the top
member's weights and optimizer state) and the explore (its own perturbed hyperparameters take
effect at the next step, without a restart); a NaN member is put back to its last good state. On a tiny
network (the ``mlp`` architecture, d=4, a few steps); the default suite runs the fitness, NaN recovery and
in-place exploit tests (the production member path; ~10 s), ``--runslow`` also the exact exploit/explore
arithmetic and PBT-U-VAE's fused models (~45 s). tests/test_pbt_ray.py runs such members as Ray actors."""

import math
import os

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from tfdisent.pbt import member  # noqa: E402
from tfdisent.training import Trainer  # noqa: E402

if not all(hasattr(Trainer, name) for name in ("train_steps", "set_hyperparameters", "restore")):
    pytest.skip("the Trainer API (train_steps/set_hyperparameters/restore) is not merged yet", allow_module_level=True)

SETTINGS = {"fitness": "mig", "method": "beta_tcvae", "dataset": "dsprites", "seed": 0, "generation_samples": 32,
          "num_labels": 200, "models_per_member": 1, "latent_dim": 4, "architecture": "mlp", "log_every": 2,
          "backend": "trainer", "fitness_seed": 0}
HYPERPARAMETERS = {"learning_rate": 1e-3, "batch_size": 8, "beta": 4.0}


def _variables(directory):
    """name -> value of every variable in the checkpoint written by save(directory)."""
    prefix = tf.train.latest_checkpoint(directory)
    if prefix is None:
        for root, _, files in os.walk(directory):
            if any(f.endswith(".index") for f in files):
                prefix = tf.train.latest_checkpoint(root) or os.path.join(
                    root, next(f for f in files if f.endswith(".index"))[:-len(".index")])
                break
    reader = tf.train.load_checkpoint(prefix)
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
            if "iterator" not in name.lower() and "save_counter" not in name}


@pytest.mark.slow
def test_exploit_then_explore(tmp_path):
    donor = member.TrainerMember(SETTINGS, 1, str(tmp_path / "donor"), HYPERPARAMETERS)
    receiver = member.TrainerMember(SETTINGS, 0, str(tmp_path / "receiver"), HYPERPARAMETERS)
    donor.train_generation(4)
    receiver.train_generation(2)
    donor.save(str(tmp_path / "donor_ckpt"))
    receiver.restore(str(tmp_path / "donor_ckpt"), own=True)       # same data stream: comparable steps
    receiver.save(str(tmp_path / "receiver_ckpt"))
    donor_vars = _variables(str(tmp_path / "donor_ckpt" / "model_0"))
    receiver_vars = _variables(str(tmp_path / "receiver_ckpt" / "model_0"))
    weights_and_slots = [name for name in donor_vars if np.asarray(donor_vars[name]).dtype.kind == "f"]
    assert len(weights_and_slots) > 10
    for name in weights_and_slots:
        np.testing.assert_array_equal(receiver_vars[name], donor_vars[name], err_msg=name)
    # explore: the receiver's doubled learning rate acts at its very next step. A twin (same
    # member id, so the same objective noise; same donor checkpoint and batches) keeps the old
    # rate. Adam's update is linear in the learning rate for equal gradients and state, so the
    # receiver's step is exactly twice the twin's.
    twin = member.TrainerMember(SETTINGS, 0, str(tmp_path / "twin"), HYPERPARAMETERS)
    twin.restore(str(tmp_path / "donor_ckpt"), own=True)
    receiver.set_hyperparameters({**HYPERPARAMETERS, "learning_rate": 2e-3})
    assert receiver.trainers[0].hyperparameters["learning_rate"] == pytest.approx(2e-3)
    assert twin.trainers[0].hyperparameters["learning_rate"] == pytest.approx(1e-3)
    before = [w.numpy().copy() for w in twin.trainers[0].model.trainable_weights]
    twin.train_generation(1)
    receiver.train_generation(1)
    after_twin = [w.numpy() for w in twin.trainers[0].model.trainable_weights]
    after_receiver = [w.numpy() for w in receiver.trainers[0].model.trainable_weights]
    ratios = [np.linalg.norm(r - b) / np.linalg.norm(d - b) for b, d, r in zip(before, after_twin, after_receiver)
              if np.linalg.norm(d - b) > 0]
    assert np.median(ratios) == pytest.approx(2.0, rel=1e-3)


def test_fitness_and_nan_recovery(tmp_path):
    backend = member.TrainerMember(SETTINGS, 0, str(tmp_path / "m"), HYPERPARAMETERS)
    backend.train_generation(2)
    fitness = member.compute_fitness(SETTINGS, backend.encoders())
    assert 0.0 <= fitness.score <= 1.0 and fitness.error == "" and fitness.details["best_model"] == 0
    backend.save(str(tmp_path / "ckpt"))
    good = [w.numpy().copy() for w in backend.trainers[0].model.trainable_weights]
    backend.set_hyperparameters({**HYPERPARAMETERS, "learning_rate": 1e6})
    with pytest.raises(FloatingPointError):
        backend.train_generation(40)
    backend.recover()
    restored = [w.numpy() for w in backend.trainers[0].model.trainable_weights]
    for a, b in zip(good, restored):
        np.testing.assert_array_equal(a, b)
    assert all(math.isfinite(float(np.sum(w))) for w in restored)


def test_exploit_in_place_does_not_retrace(tmp_path):
    """A long-lived member copies a donor and takes new values in place: the donor's weights
    arrive, the traced training step is reused (trace counter unchanged) for a new learning rate
    and beta; a new batch size traces once for the new shape."""
    settings = {**SETTINGS, "log_every": 4}
    donor = member.Member(settings, 1, str(tmp_path / "donor"), HYPERPARAMETERS)
    receiver = member.Member(settings, 0, str(tmp_path / "receiver"), HYPERPARAMETERS)
    donor.run_generation(1, None, str(tmp_path / "d1"))
    receiver.run_generation(1, None, str(tmp_path / "r1"))
    loop = receiver.backend.trainers[0]._train_loop        # as tests/test_training.py counts traces
    traced = loop.experimental_get_tracing_count()
    receiver.exploit(str(tmp_path / "d1"), {**HYPERPARAMETERS, "learning_rate": 2e-3, "beta": 5.0})
    assert receiver.backend.trainers[0]._train_loop is loop
    for mine, theirs in zip(receiver.backend.trainers[0].model.weights, donor.backend.trainers[0].model.weights):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
    result = receiver.run_generation(2, 1, str(tmp_path / "r2"))
    assert result["copied_from"] == 1 and result["beta"] == 5.0
    assert loop.experimental_get_tracing_count() == traced
    receiver.set_hyperparameters({**HYPERPARAMETERS, "batch_size": 16})
    receiver.run_generation(3, None, str(tmp_path / "r3"))
    receiver.run_generation(4, None, str(tmp_path / "r4"))
    assert loop.experimental_get_tracing_count() == traced + 1


@pytest.mark.slow
def test_udr_member_trains_fused_also_after_a_batch_size_change(tmp_path):
    """PBT-U-VAE's K models step together in one compiled call on the same batches (the same
    results as training them one after another on those batches), before and after the batch size
    changes; the fused member's checkpoints restore into a sequential one."""
    settings = {**SETTINGS, "fitness": "udr", "models_per_member": 3, "log_every": 4}
    fused = member.TrainerMember(settings, 0, str(tmp_path / "fused"), HYPERPARAMETERS)
    sequential = member.TrainerMember(settings, 0, str(tmp_path / "sequential"), HYPERPARAMETERS, fused=False)
    assert fused.fused and not sequential.fused
    for batch_size in (8, 16):
        fused.set_hyperparameters({**HYPERPARAMETERS, "batch_size": batch_size})
        sequential.set_hyperparameters({**HYPERPARAMETERS, "batch_size": batch_size})
        group = fused.group()
        fused.train_generation(4)
        sequential.train_generation(4)
        assert fused.group() is group                                # one group per batch shape
        for a, b in zip(fused.trainers, sequential.trainers):
            assert a.step == b.step
            for x, y in zip(a.model.trainable_weights, b.model.trainable_weights):
                np.testing.assert_allclose(x.numpy(), y.numpy(), rtol=1e-4, atol=1e-5)
    assert len({id(t.iterator) for t in fused.trainers}) == 1        # one shared batch stream
    fused.save(str(tmp_path / "ckpt"))
    sequential.restore(str(tmp_path / "ckpt"), own=True)
    assert sequential.step == fused.step
