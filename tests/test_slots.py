"""Training slots: never more trainings than slots, across processes, and the count of trainings at once recorded."""

from __future__ import annotations

import multiprocessing
import time

import pytest

from convlab.study import paths
from convlab.training import slots


def _hold(where, seconds, started, queue):
    with slots.training_slot(count=2, where=where, poll=0.05, every=0.05) as slot:
        started.put(time.monotonic())
        time.sleep(seconds)
        queue.put((slot.index, slot.most, time.monotonic()))


def test_no_more_trainings_than_slots_across_processes(tmp_path):
    context = multiprocessing.get_context("spawn")
    started, ended = context.Queue(), context.Queue()
    processes = [context.Process(target=_hold, args=(tmp_path, 1.0, started, ended)) for _ in range(3)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=30)
    starts = sorted(started.get(timeout=5) for _ in processes)
    finished = [ended.get(timeout=5) for _ in processes]
    assert {index for index, _, _ in finished} <= {0, 1}
    assert max(most for _, most, _ in finished) == 2, "two ran at once, and each counted the other"
    assert starts[2] >= min(end for _, _, end in finished) - 0.05, "the third waited until a slot was free"


def test_a_training_alone_counts_one_and_its_slot_is_free_afterwards(tmp_path):
    with slots.training_slot(count=2, where=tmp_path, every=0.01) as slot:
        assert slots.held(2, tmp_path) == 1
    assert (slot.index, slot.most, slot.slots) == (0, 1, 2)
    assert slots.held(2, tmp_path) == 0


@pytest.mark.parametrize("value", ["0", "two", "-1"])
def test_a_wrong_slot_count_is_refused_with_its_fix(value):
    with pytest.raises(paths.ParameterError, match="CONVLAB_SLOTS"):
        slots.slot_count({"CONVLAB_SLOTS": value})
