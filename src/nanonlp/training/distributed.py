"""Multi-process training through ``torchrun`` (PyTorch DDP): gloo on CPU, NCCL on GPU.

``torchrun --nproc_per_node N -m nanonlp gpt train ...`` (or ``translate train``, ``bert
pretrain``, ``bert finetune``) sets RANK, WORLD_SIZE and LOCAL_RANK;
:func:`setup` reads them and joins the process group. Every process draws the same global
batch from the same seeded generator and keeps its own slice of it, so N processes with a
global batch of B sequences compute exactly the gradient one process computes on B: only the
arithmetic is spread. Rank 0 alone writes files.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist

from nanonlp.training.device import pick_device


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0  # this process's index among all processes
    world_size: int = 1  # number of processes
    local_rank: int = 0  # index on this machine (which GPU)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def setup(device_type: str = "cpu") -> DistInfo:
    """Join the process group torchrun describes in the environment; single process if none."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return DistInfo()
    info = DistInfo(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]),
                    int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        backend = "nccl" if device_type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, rank=info.rank, world_size=info.world_size)
    return info


def shard(batch_size: int, info: DistInfo) -> slice:
    """This rank's rows of a global batch (the batch must split evenly).

    >>> shard(8, DistInfo(1, 2))
    slice(4, 8, None)
    """
    per = batch_size // info.world_size
    return slice(info.rank * per, (info.rank + 1) * per)


def mean_over_ranks(value: float, info: DistInfo, device: torch.device) -> float:
    """Average a Python number over all processes (identity for one process)."""
    if not info.enabled:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return float(t.item()) / info.world_size


def broadcast_from_main(value: float, info: DistInfo, device: torch.device) -> float:
    """Rank 0's value of a Python number, on every process (identity for one process)."""
    if not info.enabled:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.broadcast(t, src=0)
    return float(t.item())


@contextlib.contextmanager
def main_first(info: DistInfo) -> Iterator[None]:
    """Run the body on rank 0 first, then on the others: for work that writes a shared cache
    (a packed corpus), which the other ranks then find ready and only read.

    >>> with main_first(DistInfo()):  # one process: just the body
    ...     print("packed")
    packed
    """
    if info.enabled and not info.is_main:
        dist.barrier()  # wait until rank 0 has built it
    yield
    if info.enabled and info.is_main:
        dist.barrier()


def teardown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


@contextlib.contextmanager
def session(device: str = "auto") -> Iterator[DistInfo]:
    """:func:`setup` on entry and :func:`teardown` on exit: what every training command
    wraps its run in, so ``torchrun --nproc_per_node N -m nanonlp ... train`` just works.

    >>> with session("cpu") as info:  # no torchrun: one process
    ...     info
    DistInfo(rank=0, world_size=1, local_rank=0)
    """
    info = setup(pick_device(device).type)
    try:
        yield info
    finally:
        teardown()
