"""The sweep's configurations and seed handling (training itself is tested in test_training)."""

from __future__ import annotations

from convlab import config, experiments, training


def test_sweep_labels_and_names():
    configs = experiments.kernel_configs("fashion_mnist", (3, 5, 7))
    assert {label: c.name for label, c in configs.items()} == {"3×3": "cnn", "5×5": "cnn_k5", "7×7": "cnn_k7"}
    variants = experiments.both_layer_configs("mnist", (3, 5, 7))
    assert {label: c.kernel_sizes for label, c in variants.items()} == {"5×5 both": (5, 5), "7×7 both": (7, 7)}


def test_train_groups_uses_the_given_seeds(monkeypatch):
    calls = []
    monkeypatch.setattr(training, "train_seeds", lambda model_config, dataset, params: calls.append(params.seeds) or [])
    params = config.RunParameters.from_notebook(notebook="04_kernel_size_sweep", dataset="mnist", seeds="0,1,2")
    configs = experiments.kernel_configs("mnist", (3, 5))
    assert experiments.train_groups(configs, None, params) == {"3×3": [], "5×5": []}
    experiments.train_groups(configs, None, params, seeds=(7,))
    assert calls == [(0, 1, 2), (0, 1, 2), (7,), (7,)]
