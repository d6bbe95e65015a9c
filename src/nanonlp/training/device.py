"""Device and precision: where tensors live and which autocast dtype the forward pass uses.

bfloat16 autocast needs no loss scaling; float16 (older GPUs) needs a ``GradScaler``, which the
training loop keeps and checkpoints. ``auto`` trains in float32 on CPU and MPS. On a CPU,
bfloat16 autocast is a choice to make: where the CPU has native bfloat16 dot products
(AVX-512 BF16, AMX) the matrix products take about half their float32 time (the
``cpu-modern`` GPT step: 0.83x its float32 time on a 2-core EPYC, the same validation loss),
and elsewhere torch emulates them, slower than float32. MPS autocast is still partial: float32
only.
"""

from __future__ import annotations

import contextlib
import warnings

import torch

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
    """The autocast dtype: ``auto`` is bfloat16 on CUDA that supports it, else float32."""
    if name == "auto":
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    dtype = getattr(torch, name)
    if dtype == torch.bfloat16 and device.type == "cpu":
        if not cpu_has_bf16():
            warnings.warn("this CPU has no native bfloat16 arithmetic: bfloat16 autocast will "
                          "be slower than float32 (--train.dtype float32)", stacklevel=2)
        return dtype
    if dtype != torch.float32 and device.type != "cuda":
        raise ConfigError(f"dtype {name} is for CUDA (bfloat16 also for the CPU); on "
                          f"{device.type} use float32")
    return dtype


def cpu_has_bf16() -> bool:
    """Whether this CPU computes in bfloat16 natively (oneDNN's check: AVX-512 BF16 or AMX)."""
    return bool(torch.backends.mkldnn.is_available()
                and torch.ops.mkldnn._is_mkldnn_bf16_supported())


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
