"""Where each training precision may run: native bfloat16 detection and the refusal of slow requests.

``mixed_bfloat16`` (Keras' policy: bfloat16 compute, float32 variables) pays only where the hardware has
bfloat16 arithmetic: Intel CPUs with AMX (``amx_bf16``) or AVX512-BF16 (``avx512_bf16``), ARM CPUs with the
BF16 extension (``bf16`` in /proc/cpuinfo's Features), GPUs from NVIDIA Ampere on and TPUs. Elsewhere
oneDNN has no bfloat16 kernels to use and converts around every op; whether that still pays was not
measured (no such CPU was available), so the request is refused with one line naming the missing flags
(see BUILD_NOTES.md, "bfloat16"). The detection is a pure function of the /proc/cpuinfo text, so tests
can simulate any CPU.
"""

from __future__ import annotations

import os
from typing import Iterable, Optional, Sequence

from tfdisent.training.config import PRECISIONS, RunConfigError

CPUINFO = "/proc/cpuinfo"
# Maintainers and tests: read this file instead of /proc/cpuinfo (simulates another CPU, e.g. in a
# tfdisent-train subprocess).
CPUINFO_ENV = "TFDISENT_CPUINFO"
# Training speed relative to float32 on a CPU with native bfloat16, for time estimates (tfdisent-train's
# expected time, a study's plan). Measured with benchmarks/train_throughput.py --precisions=float32,mixed_bfloat16
# on an Intel Xeon with AMX-BF16 and AVX512-BF16, 2 cores, 2026-12-05 (BUILD_NOTES.md, "bfloat16"): beta_tcvae
# 1.57x (the default job; issue 22 measured 1.48 on a quiet machine), median over the 17 methods 1.80x (1.15
# FactorVAE to 2.40) on a loaded machine; 1.5 is the conservative round figure. mixed_float16 on CPU was not
# measured (far slower there; a GPU path): 1.0.
SPEED_FACTORS = {"float32": 1.0, "mixed_bfloat16": 1.5, "mixed_float16": 1.0}
# /proc/cpuinfo flags of native bfloat16 arithmetic: x86 (AMX-BF16 tiles, AVX512-BF16) and ARM (FEAT_BF16).
X86_BF16_FLAGS = ("amx_bf16", "avx512_bf16")
ARM_BF16_FLAGS = ("bf16",)


class PrecisionError(RunConfigError):
    """The requested precision would run without hardware support (one line)."""


def cpu_flags(cpuinfo: str) -> frozenset:
    """The feature flags of the first CPU in /proc/cpuinfo text (x86 ``flags``, ARM ``Features``)."""
    for line in cpuinfo.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() in ("flags", "features"):
            return frozenset(value.split())
    return frozenset()


def native_bfloat16_flags(flags: Iterable[str]) -> tuple:
    """The native-bfloat16 flags among ``flags`` (empty: the CPU has no bfloat16 arithmetic)."""
    flags = set(flags)
    return tuple(f for f in X86_BF16_FLAGS + ARM_BF16_FLAGS if f in flags)


def read_cpuinfo(path: Optional[str] = None) -> str:
    """/proc/cpuinfo's text (or the file named by $TFDISENT_CPUINFO), or "" where there is none."""
    path = path or os.environ.get(CPUINFO_ENV) or CPUINFO
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def accelerators() -> list:
    """TensorFlow's GPUs and TPUs (device types), where mixed precision runs natively."""
    import tensorflow as tf  # noqa: PLC0415 (keep importing this module cheap)

    return [d.device_type for kind in ("GPU", "TPU") for d in tf.config.list_physical_devices(kind)]


def check_precision(precision: str, cpuinfo: Optional[str] = None,
                    devices: Optional[Sequence[str]] = None) -> None:
    """Raises :class:`PrecisionError` when ``mixed_bfloat16`` is asked for on a CPU without native
    bfloat16 and no GPU/TPU. ``cpuinfo`` (default: this machine's /proc/cpuinfo) and ``devices``
    (default: :func:`accelerators`) are injectable so that tests simulate other machines.

    ``mixed_float16`` is not checked: it is the documented GPU path (loss scaling) and was allowed on
    every machine before this check existed.
    """
    if precision not in PRECISIONS:
        raise PrecisionError(f"--precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision != "mixed_bfloat16":
        return
    if devices is None:
        devices = accelerators()
    if devices:
        return
    text = read_cpuinfo() if cpuinfo is None else cpuinfo
    if native_bfloat16_flags(cpu_flags(text)):
        return
    raise PrecisionError(
        f"--precision=mixed_bfloat16 needs native bfloat16: this CPU lacks {' / '.join(X86_BF16_FLAGS)} "
        f"(x86) and {ARM_BF16_FLAGS[0]} (ARM) in {CPUINFO} and there is no GPU/TPU; emulated bfloat16 is "
        f"slower than float32, use --precision=float32")


def speed_factor(precision: str) -> float:
    """Measured training speed of ``precision`` relative to float32 on this project's CPU (SPEED_FACTORS)."""
    return SPEED_FACTORS.get(precision, 1.0)
