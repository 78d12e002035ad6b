"""Training throughput of two processes at once against one alone: what `make report`'s side-by-side datasets buy.

Each process trains the CNN as `fit.fit` does, with convlab's one TensorFlow thread per pool. A round
times one process alone and two at once back to back (the order alternates between rounds), so that each
round's ratio compares states of the shared machine seconds apart; the bench reports every round's ratio
and their median.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

ONE_TRAINING = """
import json, sys
from convlab.tools import bench
print(json.dumps(bench.convlab_run_images_per_second(*sys.argv[1:])))
"""


def _start(arguments: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", ONE_TRAINING, *arguments], stdout=subprocess.PIPE, text=True)


def _images_per_second(processes: list[subprocess.Popen]) -> float:
    """Summed median images/s of processes started together (each trains a fresh model)."""
    total = 0.0
    for process in processes:
        output, _ = process.communicate(timeout=1800)
        if process.returncode:
            raise RuntimeError(f"a bench training process failed (exit {process.returncode})")
        total += statistics.median(json.loads(output.strip().splitlines()[-1]))
    return total


def measure(dataset: str, data_dir: Path, train_size: int, batch_size: int, rounds: int) -> dict:
    """Per round, images/s of one training process alone and of two at once; the ratio of each round."""
    arguments = [dataset, str(data_dir), str(train_size), str(batch_size)]
    alone, together = [], []
    for round_ in range(rounds):
        for kind in ("alone", "together") if round_ % 2 == 0 else ("together", "alone"):
            if kind == "alone":
                alone.append(_images_per_second([_start(arguments)]))
            else:
                together.append(_images_per_second([_start(arguments), _start(arguments)]))
    ratios = [both / one for one, both in zip(alone, together, strict=True)]
    return {
        "alone_images_per_second": alone,
        "two_at_once_images_per_second": together,
        "ratio_per_round": ratios,
        "median_ratio": statistics.median(ratios),
    }
