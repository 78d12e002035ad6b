"""Result records: their schema (`ResultRecord`, `ProbeRecord`), atomic writes, validated reads, the record
loaders the notebooks share, and the stamp of the environment."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import NotRequired, TypedDict

import numpy as np

from convlab.study import identities, paths

SCHEMA_VERSION = 1  # of result records
PROBE_SCHEMA_VERSION = 1


class ResultRecord(TypedDict):
    """A training run, as `fit.fit` records it and `saved.store_run` completes it (its model file)."""

    schema_version: int
    dataset: dict  # name, sizes, source, the payloads' sha256
    model: dict  # `models.ModelConfig.to_dict()`
    seed: int
    parameters: dict  # `fit.TrainingConfig.to_dict()`
    macs_per_image: int
    history: dict  # per epoch: loss, accuracy, val_loss, val_accuracy
    test: dict  # loss, accuracy, predictions
    cache_key: str
    epochs_run: NotRequired[int]
    best_epoch: NotRequired[int]
    timing: NotRequired[dict]
    created: NotRequired[str]
    environment: NotRequired[dict]
    model_file: NotRequired[str]
    model_sha256: NotRequired[str]


class ProbeRecord(TypedDict):
    """A measurement of one stored training run (`convlab.experiments.probes`): valid while `key` is `probes.probe_key`'s."""

    schema_version: int
    probe: str  # "translation" or "latency"
    model: str
    seed: int
    for_cache_key: str  # the measured run's
    inputs: dict
    key: str
    result: dict
    created: str
    environment: dict


SCHEMAS = {"result record": (ResultRecord, SCHEMA_VERSION), "probe record": (ProbeRecord, PROBE_SCHEMA_VERSION)}
REQUIRED_KEYS = tuple(key for key in ResultRecord.__annotations__ if key in ResultRecord.__required_keys__)
STAMPED_PACKAGES = ("tensorflow", "tensorflow-cpu", "keras", "numpy", "pandas", "matplotlib", "seaborn", "papermill", "nbconvert")


class MissingResultError(FileNotFoundError):
    """A result record that an earlier notebook should have written is absent or unusable."""


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; on success it replaces `target` in one rename.

    On failure the temporary file is removed and `target` keeps its earlier content.
    The temporary name keeps the target's suffix, so writers that check it (Keras) accept it.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}.", suffix=f".tmp{target.suffix}")
    os.close(handle)
    temporary_path = Path(temporary)
    try:
        yield temporary_path
        os.chmod(temporary_path, 0o666 & ~_umask())  # mkstemp creates 0600; give the file normal permissions
        os.replace(temporary_path, target)
    finally:
        temporary_path.unlink(missing_ok=True)


def is_temporary(path: str | Path) -> bool:
    """Whether a file is a write in progress (or left by a stopped one): `atomic_path` names them `.<stem>.<random>.tmp<suffix>`.

    Every hidden file counts, so that a reader never takes a temporary for a finished result.
    """
    return Path(path).name.startswith(".")


def committed(files: Iterable[str | Path]) -> list[Path]:
    """The paths that are not temporaries (see `is_temporary`), sorted."""
    return sorted(Path(path) for path in files if not is_temporary(path))


def remove_temporaries(folder: str | Path, *, recursive: bool = False) -> list[Path]:
    """Delete the temporaries that stopped writes left in `folder` (and below it, if `recursive`).

    Call it only while no one writes there (a run holds the folder's lock).
    """
    pattern = ".*.tmp*"
    stale = [path for path in (Path(folder).rglob(pattern) if recursive else Path(folder).glob(pattern)) if path.is_file()]
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def write_json(path: str | Path, payload: dict) -> Path:
    """Write JSON atomically (temporary file, then rename)."""
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return Path(path)


def read_json(path: str | Path) -> dict:
    """A JSON object from disk; a missing, partial or corrupt file raises MissingResultError."""
    path = Path(path)
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MissingResultError(f"No result record at {path}.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise MissingResultError(f"The result record {path} is corrupt ({error}); it will be rebuilt by rerunning.") from None
    if not isinstance(payload, dict):
        raise MissingResultError(f"The result record {path} is not a JSON object; it will be rebuilt by rerunning.")
    return payload


def read_json_if_present(path: str | Path) -> dict:
    """A JSON file's object, or an empty dict when the file does not exist yet."""
    try:
        return read_json(path)
    except MissingResultError:
        return {}


def validated(payload: dict, kind: str, path: str | Path) -> dict:
    """A record checked against its schema (`SCHEMAS[kind]`): every required key present, the schema's version."""
    schema, version = SCHEMAS[kind]
    missing = [key for key in schema.__annotations__ if key in schema.__required_keys__ and key not in payload]
    if missing or payload.get("schema_version") != version:
        raise MissingResultError(f"The {kind} {path} is incomplete (missing {missing}) or of another schema.")
    return payload


RecordGroups = dict[str, list[ResultRecord]]  # records by model name, each group sorted by seed
_read_once: dict[tuple, dict] | None = None  # while `read_once` holds: (path, its file's identity) → the record


@contextmanager
def read_once() -> Iterator[None]:
    """Within the block, each record file is read and validated once, however many readers load it (a build
    reads the same records for the paper, the supplement, its tables and its appendix). A file replaced in the
    meantime (records are written by rename) is read again. The records handed out are shared: read only."""
    global _read_once
    outer = _read_once
    _read_once = {} if outer is None else outer
    try:
        yield
    finally:
        _read_once = outer


def _once(path: str | Path, kind: str, read: Callable[[], dict]) -> dict:
    if _read_once is None:
        return read()
    try:
        status = Path(path).stat()
    except OSError:
        return read()  # absent or unreadable: `read` names the problem
    identity = (kind, str(Path(path).resolve()), status.st_ino, status.st_mtime_ns, status.st_size)
    if identity not in _read_once:
        _read_once[identity] = read()
    return _read_once[identity]


def read_record(path: str | Path) -> ResultRecord:
    """Read a training result record, refusing files that are partial, corrupt or of another schema."""
    return _once(path, "result record", lambda: validated(read_json(path), "result record", path))


def read_probe(path: str | Path) -> ProbeRecord:
    """Read a probe record, refusing files that are partial, corrupt or of another schema."""
    return _once(path, "probe record", lambda: validated(read_json(path), "probe record", path))


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def record_path(results_dir: str | Path, model_name: str, seed: int) -> Path:
    """`<results_dir>/<model>-seed<s>.json`, refused unless it lies in `results_dir` (names can come from stored records)."""
    return paths.confined(results_dir, f"{model_name}-seed{seed}.json", "The result record's file name")


def model_path(models_dir: str | Path, model_name: str, seed: int) -> Path:
    """`<models_dir>/<model>-seed<s>.keras`, refused unless it lies in `models_dir`."""
    return paths.confined(models_dir, f"{model_name}-seed{seed}.keras", "The model's file name")


def load_records(
    results_dir: str | Path,
    model_name: str,
    *,
    needed_by: str = "",
    written_by: str = "",
    seeds: tuple[int, ...] | None = None,
) -> list[dict]:
    """The records of one model (all seeds, or exactly `seeds`), sorted by seed; a clear error if any is missing."""
    records = []
    for path in committed(Path(results_dir).glob(f"{model_name}-seed*.json")):
        try:
            records.append(read_record(path))
        except MissingResultError:
            continue
    if seeds is not None:
        records = [record for record in records if record["seed"] in seeds]
    missing = sorted(set(seeds) - {record["seed"] for record in records}) if seeds is not None else []
    if not records or missing:
        hint = f" Run {written_by} first (same dataset, seeds and output folder)." if written_by else ""
        who = f"{needed_by} needs" if needed_by else "Needed:"
        what = f" for seeds {missing}" if missing else ""
        raise MissingResultError(f"{who} the result records of {model_name!r}{what} in {results_dir}, and there are none.{hint}")
    return sorted(records, key=lambda record: record["seed"])


def load_all_records(results_dir: str | Path, *, needed_by: str = "") -> RecordGroups:
    """Every complete training record in `results_dir`, grouped by model name, each group sorted by seed."""
    groups: RecordGroups = {}
    for path in committed(Path(results_dir).glob("*-seed*.json")):
        try:
            record = read_record(path)
        except MissingResultError:
            continue
        groups.setdefault(record["model"]["name"], []).append(record)
    if not groups:
        raise MissingResultError(
            f"{needed_by or 'This step'} found no result records in {results_dir}. Run 02_fc_baseline and 03_cnn first."
        )
    return {name: sorted(group, key=lambda record: record["seed"]) for name, group in groups.items()}


def record_predictions(record: dict) -> np.ndarray:
    """A record's predicted class for each test image."""
    return np.asarray(record["test"]["predictions"])


def accuracies(group: list[dict]) -> np.ndarray:
    """Test accuracies of a group of runs, in percent."""
    return 100 * np.array([record["test"]["accuracy"] for record in group])


def load_dataset_pairs(
    reports_dir: str | Path, datasets: tuple[str, ...], needed_by: str
) -> dict[str, tuple[list[dict], list[dict]]]:
    """Per dataset, the FC baseline's and the CNN's records over the seeds both have."""
    pairs = {}
    for name in datasets:
        results = Path(reports_dir) / name / "results"
        baseline = load_records(results, identities.FC, needed_by=needed_by, written_by=f"02_fc_baseline on {name}")
        challenger = load_records(results, "cnn", needed_by=needed_by, written_by=f"03_cnn on {name}")
        common = sorted({record["seed"] for record in baseline} & {record["seed"] for record in challenger})
        if not common:
            raise MissingResultError(
                f"{needed_by}: on {name} the FC baseline and the CNN share no seed. Run 07_translation on {name} "
                "(it trains both with the probe seeds)."
            )
        pairs[name] = ([r for r in baseline if r["seed"] in common], [r for r in challenger if r["seed"] in common])
    return pairs


def package_versions() -> dict[str, str]:
    versions = {}
    for name in STAMPED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


ISA_FLAGS = (  # the vector instruction sets that decide which kernels oneDNN and XLA run, hence the rounding
    "sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16", "avx512_fp16",
    "avx_vnni", "amx_tile", "amx_bf16", "amx_int8", "asimd", "sve",
)  # fmt: skip


def cpu_isa() -> list[str]:
    """The vector instruction sets of this CPU among `ISA_FLAGS` (from /proc/cpuinfo; empty where it is absent)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                present = set(line.split(":", 1)[1].split())
                return [flag for flag in ISA_FLAGS if flag in present]
    except OSError:
        pass
    return []


def machine_of(stamp: dict) -> str:
    """A stamp's machine in words: CPU model, cores and vector instruction sets."""
    isa = stamp.get("cpu_isa")
    sets = ", ".join(isa) if isa else "instruction sets not recorded" if isa is None else "no vector instruction sets found"
    return f"{stamp.get('cpu', 'unknown CPU')} ({stamp.get('cpu_count', '?')} cores; {sets})"


def onednn_setting() -> str:
    """TF_ENABLE_ONEDNN_OPTS as TensorFlow reads it ("1" on, "0" off, "default": TensorFlow decides by CPU)."""
    return os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default")


THREAD_POOLS = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")


def thread_setting() -> str:
    """TensorFlow's thread pools as this process sets them (convlab: one thread each, unless the environment says
    otherwise). A CNN's weights depend on the intra-op count, so it is part of every run's cache key."""
    return ", ".join(f"{name}={os.environ.get(name, 'default')}" for name in THREAD_POOLS)


TRAINED_ON_ENV = "CONVLAB_TRAINED_ON"  # set by a SageMaker training job: "sagemaker <job name> <instance type>"


def environment_stamp() -> dict:
    """Python and package versions, OS, CPU and the GPUs TensorFlow sees (if it is loaded)."""
    stamp = {
        "python": platform.python_version(),
        "os": platform.platform(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_isa": cpu_isa(),
        "packages": package_versions(),
        "onednn": onednn_setting(),
        "threads": thread_setting(),
    }
    if os.environ.get(TRAINED_ON_ENV):
        stamp["trained_on"] = os.environ[TRAINED_ON_ENV]  # a record without it was trained where the run ran
    if "tensorflow" in sys.modules:
        tf = sys.modules["tensorflow"]
        stamp["gpus"] = [device.name for device in tf.config.list_physical_devices("GPU")]
    else:
        stamp["gpus"] = "not checked (TensorFlow is not loaded by this notebook)"
    return stamp
