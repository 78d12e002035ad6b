"""The dataset file formats: IDX (gzip or not) and `mnist.npz`, read within bounds and refused with the fix when broken."""

from __future__ import annotations

import gzip
import hashlib
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

SPLITS = ("x_train", "y_train", "x_test", "y_test")  # the four arrays of a dataset, as `mnist.npz` names them


IDX_UINT8 = 0x08


class DataError(ValueError):
    """The dataset files are missing, unreadable or not what they claim to be."""


MAX_IDX_DATA_BYTES = 70_000 * 28 * 28  # more than any file of these datasets holds (60,000 images of 28×28)


IDX_MARGIN_BYTES = 1  # read one byte past what the header declares: enough to tell a padded file


def _read_bytes(path: Path, expected_bytes: int = 0) -> bytes:
    """An IDX file's bytes, read no further than its header declares, or `expected_bytes` where that is more (plus a
    margin): a .gz cannot inflate unbounded, and a header that declares too little still shows what the data hold."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            head = handle.read(4)
            ndim = head[3] if len(head) == 4 else 0
            head += handle.read(4 * ndim)
            if len(head) < 4 + 4 * ndim or not 1 <= ndim <= 3:
                return head  # read_idx names what is wrong with it
            declared = int(np.prod(struct.unpack(f">{ndim}I", head[4:])))
            if declared > MAX_IDX_DATA_BYTES:
                raise DataError(
                    f"{path} declares {declared} bytes of data, more than any MNIST-style file holds "
                    f"({MAX_IDX_DATA_BYTES}); it was not read further. Fix: replace it with the official file."
                )
            return head + handle.read(max(declared, min(expected_bytes, MAX_IDX_DATA_BYTES)) + IDX_MARGIN_BYTES)
    except EOFError:
        raise DataError(f"{path} is a truncated gzip file. Fix: copy the file again (the transfer was cut short).") from None
    except (gzip.BadGzipFile, zlib.error, OSError) as error:
        raise DataError(
            f"{path} is not a valid gzip file ({error}). Fix: replace it with the official .gz file, "
            f"or decompress it yourself and drop the .gz suffix."
        ) from None


def read_idx(path: str | Path, expected_shape: tuple[int, ...] | None = None) -> np.ndarray:
    """Read an IDX file of unsigned bytes (.gz or uncompressed) into an array. With `expected_shape` (the official
    file's), a header whose shape differs from it and from the data that follow is named as a wrong header."""
    path = Path(path)
    expected_shape = tuple(expected_shape) if expected_shape is not None else None
    raw = _read_bytes(path, int(np.prod(expected_shape)) if expected_shape else 0)
    if len(raw) < 4:
        raise DataError(f"{path} holds {len(raw)} bytes, too few for an IDX file. Fix: copy the official file again.")
    zero1, zero2, dtype_code, ndim = raw[:4]
    if zero1 != 0 or zero2 != 0 or dtype_code != IDX_UINT8 or not 1 <= ndim <= 3:
        raise DataError(
            f"{path} does not start with the IDX magic number of an unsigned-byte array "
            f"(got {raw[:4].hex()}, expected 000008 followed by 01 or 03). "
            f"Fix: this is not an MNIST-style IDX file; replace it with the official one."
        )
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise DataError(f"{path} ends inside its IDX header. Fix: copy the official file again.")
    shape = struct.unpack(f">{ndim}I", raw[4:header_size])
    expected_bytes = int(np.prod(shape))
    held = len(raw) - header_size
    if held != expected_bytes and expected_shape is not None and shape != expected_shape:
        expected_size = int(np.prod(expected_shape))
        if held == expected_size:
            data_fit = f"the {held} bytes of data that follow are exactly what the official shape holds"
        elif held < max(expected_bytes, expected_size):
            data_fit = f"the file holds {held} bytes of data"
        else:
            data_fit = "the file holds more data than either"
        raise DataError(
            f"{path} has a wrong shape in its IDX header ({shape_difference(expected_shape, shape)}): the header "
            f"declares shape {shape} ({expected_bytes} bytes) where the official file's is {expected_shape}, and "
            f"{data_fit}. Fix: copy the official file again (a header edited by hand or by a tool is not the "
            f"official one)."
        )
    if held != expected_bytes:
        holds = f"holds {held} bytes of data" if held < expected_bytes else "holds more data than that"
        raise DataError(
            f"{path} declares shape {shape} ({expected_bytes} bytes) but {holds}. "
            f"Fix: the file is truncated or padded; copy the official file again."
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(shape)


def shape_difference(expected: tuple[int, ...], got: tuple[int, ...]) -> str:
    """How a shape differs from the expected one, as a reader checks it: "expected 28×28, got 28×29" for the image
    size, "expected 10000 items, got 9999" for the count, both where both differ."""
    if len(expected) != len(got):
        return f"expected {len(expected)} dimensions {expected}, got {len(got)} {got}"
    differences = []
    if expected[0] != got[0]:
        differences.append(f"expected {expected[0]} items, got {got[0]}")
    if expected[1:] != got[1:]:
        differences.append(f"expected {'×'.join(map(str, expected[1:]))}, got {'×'.join(map(str, got[1:]))}")
    return "; ".join(differences)


def read_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Read a Keras-style .npz (x_train, y_train, x_test, y_test) without ever unpickling."""
    path = Path(path)
    if path.is_file() and not zipfile.is_zipfile(path):
        head = path.read_bytes()[:16]
        if head.startswith(b"PK\x03\x04"):
            raise DataError(
                f"{path} is truncated: it starts as a zip archive but its end, the archive's table of contents, is "
                f"missing ({path.stat().st_size} bytes). Fix: copy the official mnist.npz again, completely."
            )
        raise DataError(
            f"{path} is not a readable .npz file: it is not a zip archive ({path.stat().st_size} bytes, starting {head!r}). "
            "Fix: copy the official mnist.npz again, or use the four IDX files instead."
        )
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [key for key in SPLITS if key not in archive.files]
            if missing:
                raise DataError(
                    f"{path} lacks the arrays {missing} (it holds {sorted(archive.files)}). "
                    f"Fix: use the mnist.npz that keras.datasets.mnist downloads, with keys {list(SPLITS)}."
                )
            return {key: archive[key] for key in SPLITS}
    except DataError:
        raise
    except ValueError as error:
        if "pickle" in str(error).lower():
            raise DataError(
                f"{path} stores Python objects, which are never loaded (pickles can run code). "
                f"Fix: save plain uint8 arrays with numpy.savez."
            ) from None
        raise DataError(f"{path} is not a readable .npz file ({error}). Fix: copy the official file again.") from None
    except (OSError, zlib.error, EOFError) as error:
        raise DataError(f"{path} is not a readable .npz file ({error}). Fix: copy the official file again.") from None
    except Exception as error:  # zipfile.BadZipFile and friends
        raise DataError(f"{path} is not a readable .npz file ({error}). Fix: copy the official file again.") from None


def idx_sha256(array: np.ndarray) -> str:
    """The sha256 of the IDX payload (magic, dimensions, bytes) that encodes this uint8 array."""
    header = bytes([0, 0, IDX_UINT8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    digest = hashlib.sha256(header)
    digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()
