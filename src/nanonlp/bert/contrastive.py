"""Contrastive fine-tuning of BERT's sentence vectors for retrieval: SimCSE (Gao et al. 2021).

A batch of B pairs (anchor a_i, positive b_i) runs through the encoder as one (2B, T) batch,
and each sentence vector is the pooled output (the mean of the real tokens, or [CLS]). Each
anchor must pick its own positive among the B positives of the batch, the others serving as
negatives ("in-batch negatives"), over cosine similarities sharpened by a temperature tau
(SimCSE eq. 1):

    loss_i = -log( exp(cos(u_i, v_i) / tau) / sum_j exp(cos(u_i, v_j) / tau) )

Given single sentences instead of pairs (unsupervised SimCSE), a sentence is its own positive:
its two copies in the batch differ only by their dropout masks, the noise the model learns to
see through. The set-up (reading the pairs, the Trainer) is
:func:`nanonlp.bert.finetune.make_trainer` with ``task="contrastive"``.

:class:`SimCSE` keeps the MLM head of the checkpoint it starts from (untouched by this loss),
so its checkpoint is an ordinary ``bert`` one: ``bert embed``, ``search``, ``finetune`` and
``export`` all take it; ``embedding.json`` beside the weights records the pooling.

Left out: SimCSE's hard negatives (entailment triplets), its MLP over [CLS] while training,
and, under DDP, gathering the negatives of all processes (each uses its own share of a batch).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from nanonlp.bert.config import BertConfig
from nanonlp.bert.model import BertForMaskedLM, pool  # pool: also imported from here
from nanonlp.errors import DataError


class SimCSE(BertForMaskedLM):
    """A BERT whose loss is SimCSE's: ``forward(a, b, targets=None) -> (logits, loss)``.

    a, b (B, T): token ids of anchors and positives, padded with [PAD] to one length.
    logits (B, B): cosine(anchor i, positive j) / temperature; loss: cross-entropy of each
    row against its diagonal. ``targets`` only asks for the loss (the answer of row i is
    always column i of its own batch, which holds also for a process's share under DDP).
    """

    def __init__(self, config: BertConfig, pooling: str = "mean", temperature: float = 0.05,
                 generator: torch.Generator | None = None):
        super().__init__(config, generator)
        self.pooling, self.temperature = pooling, temperature

    def embed(self, idx: torch.Tensor) -> torch.Tensor:
        """Unit-length sentence vectors (B, C) of token ids (B, T)."""
        v = pool(self.bert(idx), idx, self.config.pad_id, self.pooling)  # (B, C)
        return F.normalize(v.float(), dim=-1)

    def forward(self, a: torch.Tensor, b: torch.Tensor, targets: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        B = a.shape[0]
        v = self.embed(torch.cat([a, b]))  # (2B, C): one pass, independent dropout per row
        logits = v[:B] @ v[B:].T / self.temperature  # (B, B) cosines / tau
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits, torch.arange(B, device=a.device))
        return logits, loss


class PairData:
    """Encoded (anchor, positive) pairs per split.

    ``batch(split, batch_size, generator)`` returns ``((a, b), targets)``: a, b (B, T)
    padded with [PAD] to the longer of the two, targets ``arange(B)``. A batch draws
    distinct pairs (a pair twice in a batch would be its own negative) unless the split
    holds fewer pairs than a batch.
    """

    def __init__(self, splits: dict[str, list[tuple[list[int], list[int]]]], pad_id: int):
        for split, rows in splits.items():
            if not rows:
                raise DataError(f"{split}: no pairs")
        self.splits, self.pad_id = splits, pad_id
        self.truncated: dict[str, int] = {}

    def collate(self, rows: list[tuple[list[int], list[int]]]
                ) -> tuple[torch.Tensor, torch.Tensor]:
        T = max(max(len(a), len(b)) for a, b in rows)
        a = torch.full((len(rows), T), self.pad_id, dtype=torch.long)
        b = torch.full((len(rows), T), self.pad_id, dtype=torch.long)
        for i, (x, y) in enumerate(rows):
            a[i, :len(x)] = torch.tensor(x)
            b[i, :len(y)] = torch.tensor(y)
        return a, b

    def batch(self, split: str, batch_size: int, generator: torch.Generator
              ) -> tuple[tuple[torch.Tensor, torch.Tensor], torch.Tensor]:
        rows = self.splits[split]
        n = -(-batch_size // len(rows))  # permutations needed to fill a batch (1 unless tiny)
        pick = torch.cat([torch.randperm(len(rows), generator=generator)
                          for _ in range(n)])[:batch_size].tolist()
        a, b = self.collate([rows[i] for i in pick])
        return (a, b), torch.arange(batch_size)
