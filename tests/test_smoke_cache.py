"""The smoke run kept for a later session: reused only when finished and of the same fingerprint."""

from __future__ import annotations

import smoke


def test_a_finished_smoke_run_is_reused_and_an_unfinished_one_is_emptied(tmp_path):
    data = tmp_path / "data"
    root, finished = smoke.reusable_root(tmp_path / "cache", data)
    assert not finished and root.is_dir() and not any(root.iterdir())
    (root / "partial.json").write_text("{}")  # a run stopped before it finished
    again, finished = smoke.reusable_root(tmp_path / "cache", data)
    assert again == root and not finished and not (root / "partial.json").exists()
    (root / "kept.json").write_text("{}")
    (root / smoke.STAMP).write_text("{}")
    reused, finished = smoke.reusable_root(tmp_path / "cache", data)
    assert reused == root and finished and (root / "kept.json").is_file()
    assert smoke.FinishedSmokeRun(root).wait() == root


def test_the_fingerprint_follows_the_data_folder_and_is_stable():
    assert smoke.fingerprint(smoke.Path("/a")) == smoke.fingerprint(smoke.Path("/a"))
    assert smoke.fingerprint(smoke.Path("/a")) != smoke.fingerprint(smoke.Path("/b"))
