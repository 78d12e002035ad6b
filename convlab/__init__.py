"""convlab: what convolutional layers buy over fully connected networks, measured.

Modules, one concern each: `config` (paths and run parameters), `data` (datasets),
`models` (architectures and their cost), `training` (seeded training, result
records, reuse), `records` (atomic I/O, record loaders, environment stamp), `eda` (data
exploration, confusion matrices), `stats` (statistics over seeds), `tables` (tables of
result records, their column and group names), `narrative` (the generated prose),
`experiments` (groups of configurations trained together), `filters` (what the
filters respond to), `plots` (figures), `pipeline` (running and rendering the
notebooks) and `locking` (one run at a time per report folder).
The SageMaker path: `artifact` (what a training job ships and produces), `endpoint`
(serving a model locally), `client` (requests to an endpoint, what they measure),
`cloud` (mode aws: settings, training jobs, the sweep) and `aws_endpoint` (mode aws's
real-time endpoint, always cleaned up).
Submodules that need TensorFlow are imported on first use, so `import convlab`
stays fast.

Importing convlab before TensorFlow switches on TensorFlow's oneDNN kernels
(`TF_ENABLE_ONEDNN_OPTS=1`, unless the environment already sets it): on CPUs where
TensorFlow leaves them off, they train the CNN about twice as fast, and training
stays deterministic. The setting is part of every run's cache key.
"""

import importlib
import os
import sys

if "tensorflow" not in sys.modules:
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

__version__ = "0.1.0"
__all__ = [
    "artifact",
    "aws_endpoint",
    "client",
    "cloud",
    "config",
    "data",
    "eda",
    "endpoint",
    "experiments",
    "filters",
    "locking",
    "models",
    "narrative",
    "pipeline",
    "plots",
    "records",
    "stats",
    "tables",
    "training",
    "transforms",
]


def __getattr__(name: str):
    if name in __all__:
        return importlib.import_module(f"convlab.{name}")
    raise AttributeError(f"module 'convlab' has no attribute {name!r}")
