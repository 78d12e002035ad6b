"""convlab: what convolutional layers buy over fully connected networks, measured.

One module per concern. The study: `manifest` (the notebooks, what each reads and writes), `notebook` (the setup
call every notebook makes). Runs: `paths` (folders), `profiles` (seeds and settings), `config` (run parameters),
`data` and `datafiles` (datasets and their files), `models` (architectures and their cost), `training` (seeded
training, reuse of stored runs), `experiments` (configurations trained together), `probes` and `transforms` (what
the models assume), `filters` and `census` (what the filters respond to, and a census of their kinds), `curves`
(learning curves), `records` (atomic I/O, record loaders, the environment stamp), `cache` (the one rule for
reusing a stored product). Results: `eda`, `stats`, `tables`, `narrative`, `narrative_probes`, `narrative_filters`
and `narrative_serving` (the generated prose), `claims` (the rules that prose is checked against) and `plots`.
Running and reporting: `pipeline`, `kernels`, `runlog`, `report`, `appendix`, `document`, `publish`, `locking`.
SageMaker: `artifact`, `endpoint`, `client`, `container`, `cloud`, `aws_endpoint`. Tools: `bench` and
`concurrency` (`make bench`), `locks`. Training arithmetic: `precision`.
Submodules that need TensorFlow are imported on first use, so `import convlab` stays fast.

Importing convlab before TensorFlow switches on TensorFlow's oneDNN kernels (`TF_ENABLE_ONEDNN_OPTS=1`, unless
the environment already sets it): on the CPUs measured (see the README) they trained the CNN 1.04× to 1.35×
faster than TensorFlow's default, and training stays deterministic. It also gives TensorFlow one thread per
pool: a CNN trained with two threads rounds differently from one trained with one, so a fixed count makes a run
give the same record whether it trains alone or beside another (`make report` trains the datasets side by
side). Both settings are part of every run's cache key.
"""

import importlib
import os
import sys

if "tensorflow" not in sys.modules:
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
    # TensorFlow's C++ log to fatal messages only. Its notices would read as failures in a notebook, and TF 2.19
    # (SageMaker Studio's) logs an "E ... NodeDef mentions attribute use_unbounded_threadpool" line for every fit,
    # from a tf.data rewrite, which changes nothing; an error that matters still raises in Python.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    for _pool in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):  # see `records.thread_setting`
        os.environ.setdefault(_pool, "1")

__version__ = "0.1.0"
__all__ = [
    "appendix",
    "artifact",
    "aws_endpoint",
    "bench",
    "cache",
    "census",
    "claims",
    "concurrency",
    "client",
    "cloud",
    "config",
    "container",
    "curves",
    "data",
    "datafiles",
    "document",
    "eda",
    "endpoint",
    "experiments",
    "filters",
    "kernels",
    "locking",
    "locks",
    "manifest",
    "models",
    "narrative",
    "narrative_filters",
    "narrative_probes",
    "narrative_serving",
    "notebook",
    "paths",
    "pipeline",
    "plots",
    "precision",
    "probes",
    "profiles",
    "publish",
    "records",
    "report",
    "runlog",
    "stats",
    "tables",
    "training",
    "transforms",
]


def __getattr__(name: str):
    if name in __all__:
        return importlib.import_module(f"convlab.{name}")
    raise AttributeError(f"module 'convlab' has no attribute {name!r}")
