"""Length-bucketed batches: rows of about one length, so padding them to the longest costs
little.

A batch of rows drawn uniformly at random pads every row to the longest of the batch: for the
translation conversations of ``benchmarks/chat.py`` that was 39 tokens a row where the rows
average 30, a quarter of the step spent on padding. :class:`LengthOrder` sorts the rows of a
split by length once (ties in a seeded random order) and a batch is ``batch_size`` neighbours
in that order from a random start, wrapping around at the end so every row is drawn equally
often. The draw depends only on the generator, so a resumed run draws the batches the
uninterrupted run would have. The translation part (:class:`~nanonlp.seq2seq.data.ParallelData`)
and chat fine-tuning (:class:`~nanonlp.gpt.chat.ChatData`) draw their batches so.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


class LengthOrder:
    """The rows of one split in length order, and the length-bucketed draw.

    ``lengths`` holds one sort key per row (a length, or a tuple such as (source length,
    target length)); ``generator`` orders the ties.

    >>> order = LengthOrder([5, 1, 3, 1, 4], torch.Generator().manual_seed(0))
    >>> order.rows.tolist()  # rows 1 and 3 tie
    [1, 3, 2, 4, 0]
    >>> order.draw(2, torch.Generator().manual_seed(0))  # from the last, wrapping around
    [0, 1]
    """

    def __init__(self, lengths: Sequence, generator: torch.Generator):
        tie = torch.randperm(len(lengths), generator=generator).tolist()
        self.rows = torch.tensor(sorted(range(len(lengths)), key=lambda i: (lengths[i], tie[i])),
                                 dtype=torch.long)

    def __len__(self) -> int:
        return len(self.rows)

    def draw(self, batch_size: int, generator: torch.Generator) -> list[int]:
        """``batch_size`` row indices: neighbours in length order from a random start. A split
        smaller than the batch repeats rows, so a batch always has ``batch_size`` of them
        (under DDP each rank takes its own slice of that many).

        >>> LengthOrder([2, 1], torch.Generator()).draw(5, torch.Generator().manual_seed(0))
        [1, 0, 1, 0, 1]
        """
        n = len(self.rows)
        start = int(torch.randint(n, (1,), generator=generator))
        return self.rows[(start + torch.arange(batch_size)) % n].tolist()
