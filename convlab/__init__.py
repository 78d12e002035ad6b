"""convlab: what convolutional layers buy over fully connected networks, measured.

Subpackages by concern, in the order the data travel, each importing only those before it:

    study        the notebooks, profiles and parameters, declared once; the project's folders
    store        records, the cache rule, the folder lock, the run log
    datasets     the IDX files, their checksums, the splits
    training     architectures, seeded training, precision, workers
    experiments  what is trained together, probes, filters, the protocol check
    analysis     statistics and tables
    figures      captions and plots
    run          the notebook setup call, the pipeline, its Jupyter kernels
    paper        the reader's document, written over the records
    report       the supplement, its checks, publishing
    serving      SageMaker: artifact, jobs, endpoints, the serving container (beside the chain: study to training)
    tools        the bench and the dependency pins

`tests/test_imports.py` holds the order: no import runs from a package to one after it, and there is no circle.
Subpackages do not import their modules, so `import convlab` stays fast and needs no TensorFlow.

Importing convlab before TensorFlow switches on TensorFlow's oneDNN kernels (`TF_ENABLE_ONEDNN_OPTS=1`, unless
the environment already sets it): on the CPUs measured (see docs/performance.md) they trained the CNN faster than
TensorFlow's default, and training stays deterministic. It also gives TensorFlow one thread per pool: a CNN
trained with two threads rounds differently from one trained with one, so a fixed count makes a run give the same
record whether it trains alone or beside another (`make report` trains the datasets side by side). Both settings
are part of every run's cache key.
"""

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
LAYERS = ("study", "store", "datasets", "training", "experiments", "analysis", "figures", "run", "paper", "report", "tools")
# packages off the chain, and the last package of the chain each may import
BESIDE = {"serving": "training", "explorer": "experiments"}
