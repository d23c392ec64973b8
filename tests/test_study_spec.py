"""Study files: grid expansion with disentanglement_lib's model numbers, filters, validation."""

import json

import pytest

from tfdisent.study import spec


@pytest.fixture(scope="module")
def v1():
    return spec.load_study("flags/studies/unsupervised_study_v1.json")


def test_reference_model_numbers(v1):
    assert v1.num_models == 12600 and v1.models_per_dataset == 1800
    # README of disentanglement_lib: dsprites beta-VAE beta 1 = models 0-49, beta-TCVAE beta 6 = 1350-1399.
    first = v1.model(0)
    assert (first.dataset, first.method, first.hyperparameters, first.seed) == ("dsprites", "beta_vae", {"beta": 1}, 0)
    m = v1.model(1350)
    assert (m.dataset, m.method, m.hyperparameters["beta"], m.seed) == ("dsprites", "beta_tcvae", 6, 0)
    assert v1.model(1399).seed == 49 and v1.model(1399).hyperparameters["beta"] == 6
    assert v1.model(1800).dataset == "color_dsprites" and v1.model(1800).method == "beta_vae"
    last = v1.model(12599)
    assert (last.dataset, last.method, last.hyperparameters["c_max"], last.seed) == ("shapes3d", "annealed_vae", 100, 49)
    assert last.hyperparameters["gamma"] == 1000 and last.hyperparameters["iteration_threshold"] == 100000
    # DIP-VAE-I lambda_d_factor 10, DIP-VAE-II 1 (config indices 12-17 and 18-23).
    assert v1.model(12 * 50).hyperparameters == {"lambda_d_factor": 10, "lambda_od": 1}
    assert v1.model(18 * 50).hyperparameters == {"lambda_d_factor": 1, "lambda_od": 1}
    # Every number maps back to itself.
    for n in (0, 49, 50, 1799, 5000, 10799, 12599):
        model = v1.model(n)
        assert v1.model_num(model.dataset_index, model.config.index, model.seed_index) == n


def test_factor_vae_gets_half_the_steps(v1):
    assert v1.model(0).train["steps"] == 300000
    assert v1.model(6 * 50).method == "factor_vae" and v1.model(6 * 50).train["steps"] == 150000
    halved = spec.apply_overrides(v1, steps=1000)
    assert halved.model(6 * 50).train["steps"] == 500 and halved.model(0).train["steps"] == 1000
    assert v1.train["steps"] == 300000  # the original is untouched


def test_filters_keep_numbers(v1):
    chosen = spec.select_models(v1, spec.parse_only(["method=beta_tcvae,dataset=dsprites", "beta=6"]),
                                spec.parse_seed_range("0-4"))
    assert [m.model_num for m in chosen] == [1350, 1351, 1352, 1353, 1354]
    either = spec.select_models(v1, spec.parse_only(["method=beta_vae,method=beta_tcvae,dataset=cars3d,seed=3"]))
    assert len(either) == 12 and all(m.dataset == "cars3d" and m.seed == 3 for m in either)
    assert spec.parse_seed_range("0-2,7") == [0, 1, 2, 7]
    with pytest.raises(spec.StudyError, match="unknown key"):
        spec.select_models(v1, {"colour": ["red"]})
    with pytest.raises(spec.StudyError, match="not in study"):
        spec.select_models(v1, None, [60])
    with pytest.raises(spec.StudyError, match="no model"):
        spec.select_models(v1, {"beta": ["3"]})


def test_warm_start_dependencies_are_selected():
    abdi = spec.load_study("abdi2019")
    assert abdi.num_models == 7 and abdi.model(0).method == "vae"
    chosen = spec.select_models(abdi, {"method": ["beta_tcvae"]})
    assert [m.model_num for m in chosen] == [0, 1] and chosen[1].init_from == 0
    assert chosen[1].train["capacity_max"] == 25 and chosen[0].train["capacity_max"] is None


def _small(**changes):
    raw = json.load(open("flags/studies/cpu_small.json"))
    raw.update(changes)
    return raw


@pytest.mark.parametrize("changes, message", [
    ({"datasets": ["dsprites", "nowhere"]}, "unknown dataset 'nowhere'"),
    ({"configs": [{"method": "gan", "grid": {"beta": [1]}}]}, "unknown method 'gan'"),
    ({"configs": [{"method": "beta_vae", "grid": {"bta": [1]}}]}, "no hyperparameter bta"),
    ({"evaluation": {"metrics": ["mig", "nope"], "representations": ["mean"]}}, "unknown metric 'nope'"),
    ({"evaluation": {"metrics": ["mig"], "representations": ["mean"], "settings": {"mig": {"bins": 3}}}},
     "unknown setting"),
    ({"evaluation": {"metrics": ["dci"], "representations": ["mean"], "settings": {"dci": {"backend": "hist"}}}},
     "'hist' is not one of exact, sklearn"),
    ({"evaluation": {"metrics": ["downstream"], "representations": ["mean"],
                     "settings": {"downstream": {"predictors": ["svm"]}}}}, "'svm' is not one of"),
    ({"evaluation": {"metrics": ["mig"], "representations": ["median"]}}, "unknown representation"),
    ({"train": {"stepz": 3}}, "unknown training setting"),
    ({"configs": [{"method": "beta_vae", "init_from": "nothing"}]}, "names no config"),
])
def test_bad_study_files(changes, message):
    with pytest.raises(spec.StudyError, match=message):
        spec.validate_study(spec.study_from_dict(_small(**changes)))


@pytest.mark.parametrize("name", ["unsupervised_study_v1", "abdi2019", "cpu_small"])
def test_shipped_studies_are_valid(name):
    spec.validate_study(spec.load_study(name))


def test_fingerprint_ignores_filters_but_not_settings():
    study = spec.load_study("cpu_small")
    assert study.fingerprint() == spec.load_study("cpu_small").fingerprint()
    assert spec.apply_overrides(study, steps=10).fingerprint() != study.fingerprint()
    changed = spec.apply_overrides(study, metric_overrides=["mig.num_train=100"])
    assert changed.evaluation.settings["mig"]["num_train"] == 100 and changed.fingerprint() != study.fingerprint()
