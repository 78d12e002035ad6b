"""Atomic writes and validated reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from convlab.run import staleness
from convlab.store import cache, locking, records, runlog


def test_failed_write_keeps_the_earlier_file(tmp_path):
    target = tmp_path / "result.json"
    records.write_json(target, {"value": 1})
    with pytest.raises(RuntimeError):
        with records.atomic_path(target) as temporary:
            temporary.write_text("half")
            raise RuntimeError("interrupted")
    assert target.read_text().strip().endswith("}") and '"value": 1' in target.read_text()
    assert [path.name for path in tmp_path.iterdir()] == ["result.json"]


@pytest.mark.parametrize("content", ["", '{"schema_version": 1', "[]", '{"schema_version": 1}'])
def test_partial_or_foreign_records_are_refused(content, tmp_path):
    path = tmp_path / "cnn-seed0.json"
    path.write_text(content)
    with pytest.raises(records.MissingResultError):
        records.read_record(path)


def test_missing_prerequisite_names_the_notebook(tmp_path):
    with pytest.raises(records.MissingResultError, match="03_cnn needs .*fc_baseline.*Run 02_fc_baseline first"):
        records.load_records(tmp_path, "fc_baseline", needed_by="03_cnn", written_by="02_fc_baseline")


def test_environment_stamp_names_versions_and_hardware():
    stamp = records.environment_stamp()
    assert stamp["python"].startswith("3.")
    assert stamp["cpu_count"] >= 1 and stamp["cpu"]
    assert {"keras", "numpy"} <= set(stamp["packages"])
    import tensorflow  # noqa: F401  (the stamp lists GPUs only once TensorFlow is loaded)

    assert isinstance(records.environment_stamp()["gpus"], list)


def test_records_of_requested_seeds_only(tmp_path):
    for seed in (0, 1, 2):
        records.write_json(
            tmp_path / f"cnn-seed{seed}.json", {key: seed for key in records.REQUIRED_KEYS} | {"schema_version": 1}
        )
    assert [record["seed"] for record in records.load_records(tmp_path, "cnn", seeds=(2, 0))] == [0, 2]
    with pytest.raises(records.MissingResultError, match=r"for seeds \[5\].*Run 03_cnn first"):
        records.load_records(tmp_path, "cnn", seeds=(0, 5), written_by="03_cnn")


def test_the_temporary_of_an_unfinished_write_is_never_read_as_a_result(tmp_path):
    """A write stopped before its rename leaves `.<name>.<random>.tmp.json`, complete or not: readers pass over it."""
    results = tmp_path / "report" / "results"
    record = {key: 0 for key in records.REQUIRED_KEYS} | {"schema_version": 1, "model": {"name": "cnn"}}
    state = cache.files_digest(staleness.declared_results("03_cnn", [tmp_path / "report"]))
    with pytest.raises(RuntimeError):
        with records.atomic_path(results / "cnn-seed0.json") as temporary:
            temporary.write_text(json.dumps(record))
            left_behind = temporary.with_name(temporary.name.replace(".tmp", ".0.tmp"))
            left_behind.write_text(json.dumps(record))  # what SIGKILL would leave: the finally clause never runs
            raise RuntimeError("stopped")
    assert [path.name for path in results.iterdir()] == [left_behind.name]
    with pytest.raises(records.MissingResultError, match="found no result records"):
        records.load_all_records(results)
    assert runlog.stored_records(tmp_path / "report") == []
    assert cache.files_digest(staleness.declared_results("03_cnn", [tmp_path / "report"])) == state
    (results / locking.LOCK_FILE).write_text("{}")
    assert records.remove_temporaries(results) == [left_behind]
    assert [path.name for path in results.iterdir()] == [locking.LOCK_FILE], "only temporaries are removed"


def test_every_stamp_names_the_machine_with_its_vector_instruction_sets():
    stamp = records.environment_stamp()
    assert set(stamp["cpu_isa"]) <= set(records.ISA_FLAGS) and stamp["cpu"]
    assert (
        records.machine_of(stamp)
        == f"{stamp['cpu']} ({stamp['cpu_count']} cores; {', '.join(stamp['cpu_isa']) or 'no vector instruction sets found'})"
    )
    assert records.machine_of({"cpu": "Old CPU", "cpu_count": 4}) == "Old CPU (4 cores; instruction sets not recorded)"


def test_a_run_from_another_machine_is_reused_with_a_note_and_one_from_this_machine_without():
    from convlab.training import fit

    here = records.environment_stamp()
    assert fit.other_machine({"environment": here}) == ""
    elsewhere = here | {"cpu": "Intel(R) Xeon(R) CPU @ 2.60GHz", "cpu_isa": ["avx2", "avx512f", "amx_bf16"]}
    note = fit.other_machine({"environment": elsewhere})
    assert "trained on Intel(R) Xeon(R) CPU @ 2.60GHz" in note and "amx_bf16" in note
    assert "within seed noise, not bit for bit" in note


def stored(results_dir, name: str, seeds: tuple[int, ...], accuracy: float = 0.9) -> None:
    """Minimal complete records of one model, one per seed."""
    for seed in seeds:
        fields = {key: 0 for key in records.REQUIRED_KEYS} | {"schema_version": 1, "seed": seed}
        records.write_json(
            records.record_path(results_dir, name, seed), fields | {"test": {"accuracy": accuracy, "predictions": [2, 0]}}
        )


def test_predictions_and_accuracies_of_records():
    runs = [{"test": {"accuracy": 0.9, "predictions": [3, 1, 4]}}, {"test": {"accuracy": 0.925}}]
    assert records.record_predictions(runs[0]).tolist() == [3, 1, 4]
    assert records.accuracies(runs).tolist() == [90.0, 92.5]


def test_dataset_pairs_keep_the_seeds_both_models_have(tmp_path):
    stored(tmp_path / "mnist" / "results", "fc_baseline", (0, 1, 2))
    stored(tmp_path / "mnist" / "results", "cnn", (1, 2, 3))
    pairs = records.load_dataset_pairs(tmp_path, ("mnist",), needed_by="10_dataset_comparison")
    baseline, challenger = pairs["mnist"]
    assert [r["seed"] for r in baseline] == [1, 2] and [r["seed"] for r in challenger] == [1, 2]
    stored(tmp_path / "fashion_mnist" / "results", "fc_baseline", (0,))
    stored(tmp_path / "fashion_mnist" / "results", "cnn", (1,))
    with pytest.raises(records.MissingResultError, match="on fashion_mnist the FC baseline and the CNN share no seed"):
        records.load_dataset_pairs(tmp_path, ("mnist", "fashion_mnist"), needed_by="10_dataset_comparison")
    stored(tmp_path / "kmnist" / "results", "fc_baseline", (0,))
    with pytest.raises(records.MissingResultError, match="Run 03_cnn on kmnist first"):
        records.load_dataset_pairs(tmp_path, ("kmnist",), needed_by="10_dataset_comparison")


def test_kernel_sweep_groups_the_sizes_that_were_run(tmp_path):
    from convlab.experiments import plans
    from convlab.training import models

    stored(tmp_path, models.cnn_config("fashion_mnist", 3).name, (0, 1))
    with pytest.raises(records.MissingResultError, match="05_filter_visualisation needs the kernel-size sweep's records"):
        plans.load_kernel_sweep(tmp_path, "fashion_mnist", needed_by="05_filter_visualisation")
    stored(tmp_path, models.cnn_config("fashion_mnist", 7).name, (0,))
    groups = plans.load_kernel_sweep(tmp_path, "fashion_mnist", needed_by="05_filter_visualisation")
    assert list(groups) == ["3×3", "7×7"] and [len(group) for group in groups.values()] == [2, 1]


SCHEMA_CASES = [
    ("result record", records.read_record, records.ResultRecord, records.SCHEMA_VERSION),
    ("probe record", records.read_probe, records.ProbeRecord, records.PROBE_SCHEMA_VERSION),
]


@pytest.mark.parametrize("kind, read, schema, version", SCHEMA_CASES, ids=[row[0] for row in SCHEMA_CASES])
def test_each_record_kind_is_read_against_its_one_schema(kind, read, schema, version, tmp_path):
    """Every required key of the schema is checked, and the version; optional keys may be absent."""
    complete = {key: 0 for key in schema.__required_keys__} | {"schema_version": version}
    path = tmp_path / "record.json"
    records.write_json(path, complete)
    assert read(path) == complete
    for key in sorted(schema.__required_keys__ - {"schema_version"}):
        records.write_json(path, {name: value for name, value in complete.items() if name != key})
        with pytest.raises(records.MissingResultError, match=rf"The {kind} .* is incomplete \(missing \['{key}'\]\)"):
            read(path)
    records.write_json(path, complete | {"schema_version": version + 1})
    with pytest.raises(records.MissingResultError, match="of another schema"):
        read(path)


def test_within_read_once_a_build_reads_each_record_file_once_and_a_replaced_file_again(tmp_path, monkeypatch):
    for seed in (0, 1):
        fields = {key: 0 for key in records.REQUIRED_KEYS} | {"schema_version": 1, "seed": seed, "model": {"name": "cnn"}}
        records.write_json(records.record_path(tmp_path, "cnn", seed), fields | {"test": {"accuracy": 0.9}})
    reads = []
    real_read_json = records.read_json
    monkeypatch.setattr(records, "read_json", lambda path: reads.append(Path(path).name) or real_read_json(path))
    with records.read_once():
        first = records.load_all_records(tmp_path)
        assert records.load_all_records(tmp_path) == first and records.read_record(tmp_path / "cnn-seed0.json") == first["cnn"][0]
        assert sorted(reads) == ["cnn-seed0.json", "cnn-seed1.json"], "each file read once"
        replaced = first["cnn"][0] | {"test": {"accuracy": 0.5}}
        records.write_json(tmp_path / "cnn-seed0.json", replaced)
        assert records.read_record(tmp_path / "cnn-seed0.json")["test"]["accuracy"] == 0.5, "a file written since is read again"
        with pytest.raises(records.MissingResultError, match="incomplete"):
            records.read_probe(tmp_path / "cnn-seed1.json")  # read once as a result record, still checked as a probe's
    reads.clear()
    records.load_all_records(tmp_path)
    records.load_all_records(tmp_path)
    assert len(reads) == 4, "outside the block every load reads the files"
