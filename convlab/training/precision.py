"""The arithmetic of training: float32 for every model, unless `CONVLAB_PRECISION` asks for bfloat16.

Every model of a run trains in float32 by default, so that no comparison between two families carries a
difference of precision. bfloat16 mixed precision is there on request (`CONVLAB_PRECISION=bfloat16`, or `auto`:
bfloat16 where the CPU computes it natively). On a CPU with AMX-BF16 or AVX512-BF16, oneDNN runs a convolution's
bfloat16 products in hardware; measured side by side on such a CPU (Intel Xeon, AMX), a CNN epoch took 1.6× to 2.5×
less time than in float32. Mixed precision keeps the weights and the
optimizer in float32 and computes the layers in bfloat16; the output layer computes in float32
(`models.build_model`). Training alone uses it: every stored model is a float32 copy of the trained weights, so
every evaluation, probe, figure and served model computes in float32 on any machine. The precision is part of every
run's settings and cache key, and the report compares each CNN's accuracy with a float32 run of it
(`appendix.precision_check`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from convlab.store import records
from convlab.study import paths

PRECISION_ENV = "CONVLAB_PRECISION"
FLOAT32, BFLOAT16 = "float32", "bfloat16"
NATIVE_BFLOAT16 = ("amx_bf16", "avx512_bf16")  # CPU flags under which oneDNN computes bfloat16 in hardware
KERAS_POLICY = {FLOAT32: "float32", BFLOAT16: "mixed_bfloat16"}


def native_bfloat16(isa: list[str] | None = None) -> bool:
    """Whether this CPU (or one with these instruction sets) computes bfloat16 natively."""
    isa = records.cpu_isa() if isa is None else isa
    return any(flag in isa for flag in NATIVE_BFLOAT16)


def training_precision(environment=os.environ, isa: list[str] | None = None) -> str:
    """`CONVLAB_PRECISION` if set ("auto": bfloat16 on a CPU with native bfloat16, float32 elsewhere), else float32."""
    value = environment.get(PRECISION_ENV, "").strip().lower()
    if not value:
        return FLOAT32
    if value == "auto":
        return BFLOAT16 if native_bfloat16(isa) else FLOAT32
    if value not in KERAS_POLICY:
        raise paths.ParameterError(
            f"{PRECISION_ENV}={value!r} is not a training precision: use {FLOAT32!r}, {BFLOAT16!r} or 'auto' "
            "(bfloat16 where the CPU computes it natively)."
        )
    return value


@contextmanager
def policy(precision: str) -> Iterator[None]:
    """Keras's global dtype policy for `precision` while the block runs (models built inside compute in it)."""
    import keras

    before = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(KERAS_POLICY[precision])
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(before)


def as_float32(model, build):
    """A float32 model with `model`'s weights (`build()` makes the architecture); `model` itself if it is float32."""
    if all(layer.dtype_policy.compute_dtype == "float32" for layer in model.layers):
        return model
    with policy(FLOAT32):
        copy = build()
    copy.set_weights(model.get_weights())
    return copy


REFERENCE_DIR = paths.PROJECT_DIR / "reports" / "reference" / FLOAT32  # a float32 run's records, one folder per dataset
