"""Device and precision: where tensors live and which autocast dtype the forward pass uses.

bfloat16 autocast needs no loss scaling; float16 (older GPUs) needs a ``GradScaler``, which the
training loop keeps and checkpoints. ``auto`` trains in float32 on CPU and MPS. On a CPU,
bfloat16 autocast is a choice to make: where the CPU has native bfloat16 dot products
(AVX-512 BF16, AMX) the matrix products take about half their float32 time (the
``cpu-modern`` GPT step: 0.83x its float32 time on a 2-core EPYC, the same validation loss),
and elsewhere torch emulates them, slower than float32. Even with native bfloat16 it can lose:
on an Intel Xeon that reports ``avx512_bf16`` the ``cpu-modern`` step took 1.6x its float32
time. So ``auto`` on a CPU does not trust the flags: :func:`cpu_bf16_probe` times a small
MLP's forward and backward in both dtypes (well under a second, once per process) and
bfloat16 is chosen only where it measured faster; ``NANONLP_CPU_BF16=0`` or ``1`` skips the
probe and fixes the choice (the tests set 0, so their numbers do not depend on the machine).
MPS autocast is still partial: float32 only.
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
import warnings

import torch
import torch.nn.functional as F

from nanonlp.errors import ConfigError


def pick_device(name: str = "auto") -> torch.device:
    """``auto`` -> cuda if available, else mps, else cpu; other names are checked.

    >>> pick_device("cpu")
    device(type='cpu')
    """
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(name)
    except (RuntimeError, TypeError):
        raise ConfigError(f"unknown device {name!r}; choose auto, cpu, cuda, cuda:N or mps") \
            from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} asked for, but CUDA is not available here")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ConfigError(f"device {name!r} asked for, but there are only "
                          f"{torch.cuda.device_count()} CUDA devices here")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None)
                                  and torch.backends.mps.is_available()):
        raise ConfigError(f"device {name!r} asked for, but MPS is not available here")
    return dev


def pick_dtype(name: str, device: torch.device) -> torch.dtype:
    """The autocast dtype: ``auto`` is bfloat16 on CUDA that supports it, bfloat16 on a CPU
    where :func:`cpu_bf16_probe` measured it faster than float32, else float32."""
    if name == "auto":
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        if device.type == "cpu" and cpu_auto_dtype()[0] == torch.bfloat16:
            return torch.bfloat16
        return torch.float32
    dtype = getattr(torch, name)
    if dtype == torch.bfloat16 and device.type == "cpu":
        if not cpu_has_bf16():
            warnings.warn("this CPU has no native bfloat16 arithmetic: bfloat16 autocast will "
                          "be slower than float32 (dtype float32, or auto)", stacklevel=2)
        return dtype
    if dtype != torch.float32 and device.type != "cuda":
        raise ConfigError(f"dtype {name} is for CUDA (bfloat16 also for the CPU); on "
                          f"{device.type} use float32")
    return dtype


def cpu_has_bf16() -> bool:
    """Whether this CPU computes in bfloat16 natively (oneDNN's check: AVX-512 BF16 or AMX)."""
    return bool(torch.backends.mkldnn.is_available()
                and torch.ops.mkldnn._is_mkldnn_bf16_supported())


def cpu_auto_dtype() -> tuple[torch.dtype, str]:
    """What ``dtype auto`` trains in on this CPU, and a line that says why: the
    ``NANONLP_CPU_BF16`` setting (0 or 1) if there is one, else :func:`cpu_bf16_probe`."""
    fixed = os.environ.get("NANONLP_CPU_BF16", "").strip()
    if fixed in ("0", "1"):
        dtype = torch.bfloat16 if fixed == "1" else torch.float32
        return dtype, f"dtype auto: {str(dtype).removeprefix('torch.')} (NANONLP_CPU_BF16={fixed})"
    probe = cpu_bf16_probe()
    return (torch.bfloat16 if probe.faster else torch.float32), str(probe)


class Probe(tuple):
    """What :func:`cpu_bf16_probe` measured: seconds per float32 and per bfloat16 round."""

    __slots__ = ()
    #: bfloat16 must take at most this share of float32's time: a tie is not worth the
    #: precision, and the probe's MLP is only a proxy for the model's step
    MARGIN = 0.9

    def __new__(cls, float32_s: float, bfloat16_s: float):
        return super().__new__(cls, (float32_s, bfloat16_s))

    @property
    def ratio(self) -> float:
        return self[1] / self[0]

    @property
    def faster(self) -> bool:
        return self.ratio <= self.MARGIN

    def __str__(self) -> str:
        choice = "bfloat16" if self.faster else "float32"
        return f"dtype auto: {choice} (bfloat16 measured {self.ratio:.2f}x float32's time)"


def cpu_bf16_probe(width: int = 128, rows: int = 512, budget_s: float = 0.4) -> Probe:
    """Time bfloat16 autocast against float32 on one core of this CPU.

    The work is the forward and backward of an MLP (width -> 4 width -> width, GELU) on
    ``rows`` rows: the matrix products of a small GPT's step, at the nanogpt-cpu width where
    the choice is closest (wider models gain more from bfloat16 where it is native). The two
    dtypes alternate, so a load that comes and goes on a shared machine hits both, and the
    fastest round of each counts. Rounds stop after ``budget_s`` seconds. One thread: the
    ratio is a property of the core's arithmetic, and with more threads on a shared machine
    each call waits on whichever core is busy (0.4 s a call at load 7 on 2 cores, against
    5 ms on one). A CPU without native bfloat16 (:func:`cpu_has_bf16`) is not timed:
    emulated, it is never faster. Cached: one probe per process (0.3-0.5 s).
    """
    if not cpu_has_bf16():
        return Probe(1.0, float("inf"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _probe(width, rows, budget_s)
    finally:
        torch.set_num_threads(threads)


@functools.cache
def _probe(width: int, rows: int, budget_s: float) -> Probe:
    start = time.perf_counter()
    g = torch.Generator().manual_seed(0)
    x = torch.randn(rows, width, generator=g)
    w1 = torch.randn(4 * width, width, generator=g).div_(width ** 0.5).requires_grad_()
    w2 = torch.randn(width, 4 * width, generator=g).div_(width ** 0.5).requires_grad_()

    def one(dtype: torch.dtype) -> float:
        t = time.perf_counter()
        with autocast(torch.device("cpu"), dtype):
            y = F.linear(F.gelu(F.linear(x, w1)), w2)  # (rows, width)
        y.float().square().mean().backward()
        return time.perf_counter() - t

    best = {torch.float32: float("inf"), torch.bfloat16: float("inf")}
    for dtype in best:
        one(dtype)  # warm-up: oneDNN builds its kernels on the first call
    for _ in range(20):
        for dtype in best:
            best[dtype] = min(best[dtype], one(dtype))
        if time.perf_counter() - start > budget_s:
            break
    return Probe(best[torch.float32], best[torch.bfloat16])


def enable_tf32(device: torch.device) -> bool:
    """On CUDA, let float32 matrix products and convolutions use TF32 tensor cores (what
    nanoGPT sets): the parts of a step outside bfloat16 autocast, or a whole float32 run,
    then take the fast path, with 10 mantissa bits instead of 23 inside the products. A
    process-wide setting of torch's, as torch has no other; True where it was set.

    >>> enable_tf32(torch.device("cpu"))
    False
    """
    if device.type != "cuda":
        return False
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    return True


def autocast(device: torch.device, dtype: torch.dtype):
    """A context that runs the forward pass in ``dtype`` (a no-op for float32)."""
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)
