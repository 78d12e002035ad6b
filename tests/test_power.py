"""Seeds by design: the power functions against simulation, and the power table on the published records."""

from __future__ import annotations

import numpy as np
import pytest

from convlab.analysis import power
from convlab.paper import power_table, runs
from convlab.study import config, hypotheses, paths


def test_superiority_power_matches_a_simulated_one_sided_welch_test():
    from scipy import stats

    n, delta, sd, alpha, trials = 6, 1.0, 0.8, 0.01, 20000
    rng = np.random.default_rng(0)
    first, second = rng.normal(delta, sd, (trials, n)), rng.normal(0.0, sd, (trials, n))
    found = stats.ttest_ind(first, second, axis=1, equal_var=False, alternative="greater").pvalue < alpha
    se, df = power.standard_error(sd, sd, n)
    assert power.superiority_power(delta, se, df, alpha) == pytest.approx(found.mean(), abs=0.03)
    assert power.superiority_power(0.0, se, df, alpha) == pytest.approx(alpha, abs=1e-9), "no effect: the level"


def test_equivalence_power_grows_with_seeds_and_is_zero_outside_the_margin():
    powers = [power.equivalence_power(0.1, *power.standard_error(0.3, 0.3, n), 0.01, 0.5) for n in (3, 6, 12, 24)]
    assert powers == sorted(powers) and powers[-1] > 0.8
    assert power.equivalence_power(0.6, *power.standard_error(0.3, 0.3, 1000), 0.01, 0.5) < 0.01


def test_seeds_needed_is_the_first_count_reaching_the_target():
    assert power.seeds_needed(lambda n: n / 10) == 8
    assert power.seeds_needed(lambda n: 0.0) is None


def test_the_primary_family_holds_at_most_twelve_tests_and_the_table_covers_it():
    assert hypotheses.FAMILY_SIZE <= 12
    table = power_table.power_table(runs.load_all(paths.REPORTS_DIR / "published", config.DATASETS))
    assert len(table) == hypotheses.FAMILY_SIZE
    headline = table[(table["hypothesis"] == "cnn_above_fc")]
    assert all(isinstance(value, int) and 2 <= value <= 30 for value in headline["seeds needed"])


def test_the_frozen_plan_declares_the_tests_and_the_full_profile_meets_every_reachable_need():
    from convlab.study import profiles

    plan = power_table.read_plan()
    assert len(plan) == hypotheses.FAMILY_SIZE
    titles = {title: name for name, title in config.DATASET_TITLES.items()}
    by_key = {h.key: h for h in hypotheses.PRIMARY}
    planned = plan[plan["test"].isin(["paired", "Welch"])]
    assert len(planned) >= hypotheses.FAMILY_SIZE - 2  # the locally connected twin had no earlier records
    for row in planned.to_dict("records"):
        paired = hypotheses.paired_on(by_key[row["hypothesis"]], titles[row["dataset"]])
        assert paired == (row["test"] == "paired"), f"{row['hypothesis']} on {row['dataset']}: WELCH_ON disagrees with the plan"
    reachable = [need for need in plan["seeds needed"] if isinstance(need, int)]
    assert reachable and len(profiles.PROFILES["full"].seeds) >= max(reachable)
    assert profiles.exploratory_seeds(profiles.PROFILES["full"].seeds) == (0, 1, 2)


def test_each_primary_model_trains_on_the_seeds_its_hypotheses_need_by_the_frozen_plan():
    from convlab.study import profiles

    full, gpu = profiles.PROFILES["full"].seeds, profiles.PROFILES["gpu"].seeds
    needs = hypotheses.planned_needs()
    # the interaction on Fashion-MNIST needs 6: every model it names trains on 6 there, none fewer than 5 elsewhere
    assert needs[("locality_interaction", "Fashion-MNIST")] == 6
    for name in ("fc_baseline", "fc_baseline_perm0", "cnn_perm0"):
        assert hypotheses.seeds_for_model(name, full, "fashion_mnist") == (0, 1, 2, 3, 4, 5)
        assert hypotheses.seeds_for_model(name, full, "mnist") == (0, 1, 2, 3, 4)
    # MNIST's 5×5 equivalence needs 7; Fashion-MNIST's cannot be reached, so the floor holds
    assert hypotheses.seeds_for_model("cnn_k5", full, "mnist") == full
    assert len(hypotheses.seeds_for_model("cnn_k5", full, "fashion_mnist")) == hypotheses.MIN_PRIMARY_SEEDS
    # no earlier records for the locally connected twin: it and the CNN train on every seed
    assert hypotheses.seeds_for_model("cnn_local1", full, "mnist") == hypotheses.seeds_for_model("cnn", full, "mnist") == full
    # a profile that does not plan by power trains every primary model on all its seeds; exploratory models on three
    assert hypotheses.seeds_for_model("cnn_k7", gpu, "mnist", by_power=profiles.PROFILES["gpu"].by_power) == gpu
    assert hypotheses.seeds_for_model("cnn_gap", full, "mnist") == (0, 1, 2)
