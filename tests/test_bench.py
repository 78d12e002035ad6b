"""`make bench`: the measurements, the peak they are compared with, and the per-notebook split it reads."""

from __future__ import annotations

import json
import statistics
from datetime import UTC, datetime

import pytest

from convlab.report import appendix
from convlab.store import records, runlog
from convlab.tools import bench, bench_summary


def test_nominal_peak_is_derived_from_clock_cores_and_vector_width(monkeypatch):
    monkeypatch.setattr(bench, "_cpu_flags", lambda: {"avx2", "fma", "avx512f"})
    monkeypatch.setattr(records, "cpu_model", lambda: "Some Xeon Processor @ 2.50GHz")
    monkeypatch.setattr(bench.os, "cpu_count", lambda: 2)
    peak = bench.nominal_peak_flops()
    assert peak["gflops"] == 2 * 2.5 * 64 and peak["vector"] == "AVX-512"
    assert "2 cores × 2.50 GHz × 64 FLOP/cycle" in peak["derivation"]
    monkeypatch.setattr(bench, "_cpu_flags", lambda: {"avx2", "fma"})
    assert bench.nominal_peak_flops()["gflops"] == 2 * 2.5 * 32
    monkeypatch.setattr(records, "cpu_model", lambda: "Intel(R) Xeon(R) Processor")  # no clock in the name
    monkeypatch.setattr(bench, "_mhz", lambda: 2599.998)
    assert "2 cores × 2.60 GHz" in bench.nominal_peak_flops()["derivation"]


def test_split_of_cold_and_warm_runs_comes_from_the_pipeline_record(tmp_path):
    def timing(seconds, training, trained):
        return {"seconds": seconds, "training_seconds": training, "trained": trained, "startup_seconds": 6.0, "executed": True}

    cold = {"01_eda": timing(30.0, 0.0, 0), "03_cnn": timing(400.0, 360.0, 3)}
    runlog.record(tmp_path / "mnist", {}, cold, cold=True)
    runlog.record(tmp_path / "mnist", {}, {"03_cnn": timing(20.0, 0.0, 0)})
    rows = bench.notebook_split(tmp_path)
    assert {(row["run"], row["notebook"], row["other_seconds"]) for row in rows} == {
        ("cold", "01_eda", 30.0),
        ("cold", "03_cnn", 40.0),
        ("warm", "03_cnn", 20.0),
    }


def test_a_whole_run_is_timed_from_first_start_to_last_end_with_overlapping_training_counted_once(tmp_path):
    """Two dataset folders run side by side, one of them training two models at once (one a learning-curve
    run): elapsed is the span of the notebooks, not their sum, and training time in it is the union."""

    def store(folder: str, name: str, ends: str, train_seconds: float) -> None:
        record = {key: {} for key in records.REQUIRED_KEYS} | {"schema_version": records.SCHEMA_VERSION, "seed": 0}
        record |= {"created": f"2026-01-01T{ends}+00:00", "timing": {"train_seconds": train_seconds}}
        records.write_json(tmp_path / folder / "results" / f"{name}-seed0.json", record)

    def timing(finished: str, seconds: float, training: float) -> dict:
        return {"seconds": seconds, "training_seconds": training, "trained": 1, "executed": True, "finished": finished}

    store("mnist", "cnn", "10:10:00", 300.0)  # trained 10:05-10:10
    store("mnist", "curves/n300/cnn", "10:08:00", 240.0)  # 10:04-10:08, beside it
    store("fashion_mnist", "fc", "10:20:00", 60.0)  # 10:19-10:20
    store("fashion_mnist", "fc_old", "09:00:00", 60.0)  # from an earlier run: outside this one
    runlog.record(tmp_path / "mnist", {}, {"03_cnn": timing("2026-01-01T10:11:00+00:00", 660.0, 300.0)}, cold=True)
    runlog.record(tmp_path / "fashion_mnist", {}, {"02_fc": timing("2026-01-01T10:21:00+00:00", 300.0, 60.0)}, cold=True)
    run = runlog.whole_run(tmp_path, ["fashion_mnist", "mnist", "comparison"], "cold")
    assert run["elapsed_seconds"] == 1260.0  # 10:00 to 10:21
    assert run["notebook_seconds"] == 960.0 and run["training_seconds"] == 600.0  # from the records: 300 + 240 + 60
    assert run["training_wall_seconds"] == 420.0  # 10:04-10:10 and 10:19-10:20
    assert run["outside_training_seconds"] == 840.0
    assert runlog.whole_run(tmp_path, ["fashion_mnist", "mnist"], "warm") is None
    logged = runlog.read(tmp_path / "mnist")["runs"]["03_cnn"]
    assert runlog.trained_during(tmp_path / "mnist", logged) == (2, 540.0, 360.0)  # the records, not the log's 300 s
    assert runlog.trained_during(tmp_path / "fashion_mnist", logged) == (0, 0.0, 0.0)  # its runs ended later or earlier
    split = {row["notebook"]: row for row in bench.notebook_split(tmp_path) if row["folder"] == "mnist"}
    assert split["03_cnn"]["other_seconds"] == 300.0 and split["03_cnn"]["trained"] == 2  # 660 s, 360 s of it training
    assert bench_summary.totals({"runs": {"cold": run}}) == {"cold": run} and bench_summary.totals({}) == {}
    table = appendix.run_totals(tmp_path, ["fashion_mnist", "mnist"])
    assert table.loc["cold", "elapsed (min)"] == 21.0 and table.loc["cold", "no model training (min)"] == 14.0


def test_a_training_counts_for_the_notebook_that_ran_it_only(tmp_path):
    """Records carry their creation time in whole seconds; a notebook that starts in the second in which the one
    before it stored its last run must not count that run as its own."""

    def store(name: str, train_seconds: float) -> None:
        record = {key: {} for key in records.REQUIRED_KEYS} | {"schema_version": records.SCHEMA_VERSION, "seed": 0}
        record |= {"created": datetime.now(UTC).isoformat(timespec="seconds"), "timing": {"train_seconds": train_seconds}}
        records.write_json(tmp_path / "results" / f"{name}-seed0.json", record)

    (tmp_path / "results").mkdir()
    store("fc", 10.0)
    before_first = runlog.record_versions(tmp_path)
    store("cnn", 40.0)  # the first notebook trains, and stores its run last
    before_second = runlog.record_versions(tmp_path)  # the next notebook starts at once (same second)
    assert [record["timing"]["train_seconds"] for record in runlog.trained_since(tmp_path, before_first)] == [40.0]
    assert runlog.trained_since(tmp_path, before_second) == []
    store("fc", 12.0)  # trained again (a changed input): the record is rewritten
    assert [record["timing"]["train_seconds"] for record in runlog.trained_since(tmp_path, before_second)] == [12.0]


@pytest.mark.slow
def test_bench_measures_both_paths_and_writes_one_file(shared_data, tmp_path, capsys):
    output = tmp_path / "bench.json"
    arguments = ["--data-dir", str(shared_data), "--reports-dir", str(tmp_path), "--output", str(output)]
    assert bench.main([*arguments, "--train-size", "1000", "--repeats", "1"]) == 0
    written = json.loads(output.read_text())
    speed, flops = written["throughput"], written["flops"]
    assert speed["images_per_epoch"] == 900 and speed["batch_size"] == 32 and speed["steps_per_execution"] == 16
    paths = ("convlab", "plain_keras", "plain_keras_tensorflow_defaults")
    for path in (f"{name}_images_per_second" for name in paths):
        assert len(speed[path]) == bench.EPOCHS_PER_RUN - 1 and min(speed[path]) > 50, path
    assert speed["macs_per_image"] == 4_039_808
    ours, plain = speed["convlab_images_per_second"], speed["plain_keras_images_per_second"]
    assert speed["paired_ratios"] == [pytest.approx(statistics.median(ours) / statistics.median(plain))]
    assert "paired round by round" in bench_summary.describe(written)
    assert flops["training_flops_per_image"] == 6 * 4_039_808
    assert 0 < flops["fraction_of_nominal_peak"] < 1 and 0 < flops["fraction_of_matmul"] < 1.5
    side = written["concurrency"]
    pairs = list(zip(side["alone_images_per_second"], side["two_at_once_images_per_second"], side["ratio_per_round"]))
    assert len(pairs) == 2 and all(alone > 50 and ratio == pytest.approx(both / alone) for alone, both, ratio in pairs)
    assert side["median_ratio"] == pytest.approx((pairs[0][2] + pairs[1][2]) / 2)
    from convlab.training import precision

    if precision.native_bfloat16():
        assert [row["model"] for row in written["precision"]] == ["cnn", "cnn_k7-7"]
        for row in written["precision"]:
            speeds = zip(row["float32_images_per_second"], row["bfloat16_images_per_second"], row["ratio_per_round"])
            assert all(f32 > 50 and ratio == pytest.approx(bf16 / f32) for f32, bf16, ratio in speeds)
        assert "bfloat16 mixed precision" in bench_summary.describe(written)
    else:
        assert written["precision"] == []
    printed = capsys.readouterr().out
    assert "convlab training path" in printed and "(nothing recorded yet)" in printed


def test_paired_ratios_compare_the_runs_of_each_round():
    """Round 2 ran in a slow spell on both paths: its ratio is still 1.25, where pooled epochs would mix states."""
    ours, plain = [[100.0, 120.0], [50.0, 50.0]], [[88.0, 88.0], [40.0, 40.0]]
    assert bench.paired_ratios(ours, plain) == [pytest.approx(1.25), pytest.approx(1.25)]
    with pytest.raises(ValueError, match="as many convlab runs as plain-Keras runs"):
        bench.paired_ratios(ours, plain[:1])
