"""The BERT model: a bidirectional transformer encoder with a masked-LM head (Devlin et al. 2019).

Token + learned position + segment (token type) embeddings, then LayerNorm and dropout; a
stack of post-norm bidirectional blocks from :mod:`nanonlp.layers` (exact GELU, LayerNorm eps
1e-12) whose attention hides padding keys; and heads on top. ``prenorm=True`` swaps in
pre-norm blocks and a final LayerNorm (Xiong et al. 2020: from scratch on a small budget they
leave the MLM's unigram plateau in far fewer steps than BERT's post-norm; not HF-exportable).

* :class:`BertForMaskedLM`: BERT's MLM head, a transform (Linear, GELU, LayerNorm) and a
  decoder tied to the token embedding with its own output bias (Press & Wolf 2017);
* :class:`BertClassifier`: ``task="sequence"`` classifies the [CLS] vector through BERT's
  pooler (Linear + tanh), or with ``pooling="mean"`` the mean of the real tokens' vectors
  (MLM alone never trains the [CLS] output, which BERT's next-sentence task did; the mean
  carries what MLM taught every token: Reimers & Gurevych 2019 found it the better sentence
  vector); ``task="token"`` labels every token (NER).

Left out: next-sentence prediction (RoBERTa, Liu et al. 2019, showed MLM alone does as well),
relative positions, the whole-word masking variant.

Notation: B batch, T sequence length, C width (n_embd), V vocabulary, L labels.
Contract (shared with GPT and seq2seq): ``forward(idx, targets=None) -> (logits, loss)``, where
targets of -1 are ignored (unmasked positions, padding, non-first sub-words).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from nanonlp.bert.config import BertConfig
from nanonlp.bpe.formats import TOKENIZER_FILE
from nanonlp.errors import ConfigError, DataError
from nanonlp.layers import Block, Linear, check_ids, linear

TASKS = ("sequence", "token")
#: sentence vectors from hidden states (see :func:`pool`); the last two for imported
#: sentence-transformers folders trained with them
POOLING = ("cls", "mean", "max", "mean_sqrt_len")


def pool(hidden: torch.Tensor, idx: torch.Tensor, pad_id: int, how: str = "mean"
         ) -> torch.Tensor:
    """Sentence vectors (B, C) from hidden states (B, T, C): the mean over the positions
    whose id (B, T) is not [PAD] (Reimers & Gurevych 2019), position 0, [CLS] (``cls``), the
    largest value of each feature over the real positions (``max``), or their sum over the
    square root of their number (``mean_sqrt_len``, sentence-transformers' mean_sqrt_len_tokens).

    >>> h = torch.tensor([[[1.0], [3.0], [9.0]]])  # (1, 3, 1): the third token is padding
    >>> ids = torch.tensor([[2, 5, 0]])
    >>> [pool(h, ids, 0, how).item() for how in POOLING]
    [1.0, 2.0, 3.0, 2.828...]
    """
    if how == "cls":
        return hidden[:, 0]
    real = (idx != pad_id).unsqueeze(-1)  # (B, T, 1)
    if how == "max":  # padding never wins: it gets the lowest finite value
        return hidden.masked_fill(~real, torch.finfo(hidden.dtype).min).max(1).values
    w = real.to(hidden.dtype)
    total, n = (hidden * w).sum(1), w.sum(1).clamp(min=1)  # (B, C), (B, 1)
    if how == "mean_sqrt_len":
        return total / n.sqrt()
    if how != "mean":
        raise ConfigError(f"unknown pooling {how!r}; choose {', '.join(POOLING)}")
    return total / n


class BertEncoder(nn.Module):
    """Embeddings and blocks: ids (B, T) [+ token types (B, T)] -> hidden states (B, T, C)."""

    def __init__(self, config: BertConfig):
        super().__init__()
        c = self.config = config
        self.wte = nn.Embedding(c.vocab_size, c.n_embd)
        self.wpe = nn.Embedding(c.block_size, c.n_embd)
        self.wtt = nn.Embedding(c.type_vocab_size, c.n_embd)
        self.ln_emb = nn.LayerNorm(c.n_embd, eps=c.norm_eps)
        self.drop = nn.Dropout(c.dropout)
        self.h = nn.ModuleList(
            Block(c.n_embd, c.n_head, causal=False, bias=True, dropout=c.dropout,
                  prenorm=c.prenorm, gelu="none", norm_eps=c.norm_eps, mlp_hidden=c.n_inner)
            for _ in range(c.n_layer))
        # pre-norm blocks leave the residual stream un-normalised: one norm at the end (GPT-2)
        self.ln_f = nn.LayerNorm(c.n_embd, eps=c.norm_eps) if c.prenorm else None

    def forward(self, idx: torch.Tensor, token_types: torch.Tensor | None = None
                ) -> torch.Tensor:
        T = idx.shape[1]
        if self.config.block_size < T:
            raise DataError(f"sequence of {T} tokens is longer than the position table "
                            f"(block_size {self.config.block_size}); truncate it")
        pos = torch.arange(T, device=idx.device)  # (T,)
        x = self.wte(idx) + self.wpe(pos)  # (B, T, C) + (T, C)
        if token_types is not None:
            x = x + self.wtt(token_types)  # (B, T, C)
        else:
            x = x + self.wtt.weight[0]  # every token in segment A
        x = self.drop(self.ln_emb(x))
        pad_mask = idx != self.config.pad_id  # (B, T): True for real tokens
        # no padding: the unmasked (faster) attention kernel. Only on the CPU, where asking
        # costs nothing; on a GPU the question would stall it every step, so the mask stays
        if idx.device.type == "cpu" and bool(pad_mask.all()):
            pad_mask = None
        for block in self.h:
            x, _ = block(x, pad_mask=pad_mask)
        return x if self.ln_f is None else self.ln_f(x)


def init_bert_(module: nn.Module, std: float = 0.02,
               generator: torch.Generator | None = None) -> None:
    """BERT's initialisation: N(0, 0.02) for matrices and embeddings, zero biases, unit norms.

    Parameters outside Linear, Embedding and LayerNorm (the MLM output bias) are zeroed.
    """
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, std, generator=generator)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        for p in m.parameters(recurse=False):
            if not isinstance(m, (nn.Linear, nn.Embedding, nn.LayerNorm)):
                nn.init.zeros_(p)


class BertForMaskedLM(nn.Module):
    """Encoder + MLM head: ``forward(idx, token_types=None, targets=None)`` -> logits (B, T, V)."""

    ignore_index = -1  # target positions the loss skips (the Trainer counts the rest)

    def __init__(self, config: BertConfig, generator: torch.Generator | None = None):
        super().__init__()
        self.config = config
        c = config
        self.bert = BertEncoder(c)
        # BERT's MLM head: transform, then a decoder that shares the token embedding
        self.head = nn.ModuleDict(dict(
            dense=Linear(c.n_embd, c.n_embd),
            ln=nn.LayerNorm(c.n_embd, eps=c.norm_eps),
        ))
        self.head_bias = nn.Parameter(torch.zeros(c.vocab_size))
        self.reset_parameters(generator)

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        init_bert_(self, generator=generator or torch.Generator().manual_seed(0))

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(self, idx: torch.Tensor, token_types: torch.Tensor | None = None,
                targets: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """idx (B, T) -> logits (B, T, V); with targets (B, T), the mean cross-entropy over
        targets that are not -1 (the masked positions)."""
        check_ids(idx, self.config.vocab_size)
        x = self.bert(idx, token_types)  # (B, T, C)
        if targets is not None:
            # the head only matters at masked positions: run it on those rows alone
            keep = targets.reshape(-1) != -1  # (B*T,)
            x = x.reshape(-1, x.shape[-1])[keep]  # (N, C)
            logits = self.logits(x)  # (N, V)
            # a sum over the masked tokens and a clamped count: no `keep.any()` host sync, and
            # a batch without masked tokens gives loss 0 rather than nan
            loss = F.cross_entropy(logits, targets.reshape(-1)[keep], reduction="sum") \
                / keep.sum().clamp(min=1)
            return logits, loss
        return self.logits(x), None

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Hidden states (..., C) -> vocabulary logits (..., V) through the MLM head."""
        h = self.head.ln(self.head.dense(x, gelu="none"))  # BERT's exact (erf) GELU
        return linear(h, self.bert.wte.weight, self.head_bias)


class BertClassifier(nn.Module):
    """Encoder + a label head: one label per sequence ([CLS]) or per token.

    ``forward(idx, token_types=None, targets=None)`` -> logits (B, L) for ``task="sequence"``,
    (B, T, L) for ``task="token"``.
    """

    ignore_index = -1  # target positions the loss skips (the Trainer counts the rest)

    def __init__(self, config: BertConfig, labels: list[str], task: str = "sequence",
                 generator: torch.Generator | None = None, pooling: str = "cls"):
        super().__init__()
        if task not in TASKS:
            raise ConfigError(f"unknown task {task!r}; choose {' or '.join(TASKS)}")
        if pooling not in POOLING:
            raise ConfigError(f"unknown pooling {pooling!r}; choose {' or '.join(POOLING)}")
        if len(labels) < 2 or len(set(labels)) != len(labels):
            raise ConfigError(f"need at least two distinct labels, got {labels}")
        self.config, self.labels, self.task, self.pooling = config, list(labels), task, pooling
        c = config
        self.bert = BertEncoder(c)
        self.pooler = nn.Linear(c.n_embd, c.n_embd) if task == "sequence" else None
        self.drop = nn.Dropout(c.dropout)
        self.classifier = nn.Linear(c.n_embd, len(labels))
        with torch.no_grad():
            init_bert_(self, generator=generator or torch.Generator().manual_seed(0))

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(self, idx: torch.Tensor, token_types: torch.Tensor | None = None,
                targets: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        check_ids(idx, self.config.vocab_size)
        x = self.bert(idx, token_types)  # (B, T, C)
        if self.task == "sequence":
            v = pool(x, idx, self.config.pad_id, self.pooling)  # (B, C)
            x = torch.tanh(self.pooler(v))  # BERT's pooler: (B, C)
        logits = self.classifier(self.drop(x))  # (B, L) or (B, T, L)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                   ignore_index=-1)
        return logits, loss


# ----------------------------------------------------------------------------------------------
# checkpoints: kind "bert" (MLM) or "bert-classifier" (labels and task in the model config)


def classifier_config(model: BertClassifier) -> dict[str, Any]:
    return {**model.config.to_dict(), "labels": model.labels, "task": model.task,
            "pooling": model.pooling}


def save_bert(model: nn.Module, path: str | os.PathLike, tokenizer_file=None) -> Path:
    """Write a weights-only checkpoint folder (config.json + model.safetensors [+ tokenizer])."""
    from nanonlp.training.checkpoint import save_checkpoint

    extra = {TOKENIZER_FILE: Path(tokenizer_file).read_bytes()} if tokenizer_file else None
    if isinstance(model, BertClassifier):
        return save_checkpoint(path, model, kind="bert-classifier",
                               model_config=classifier_config(model), extra_files=extra)
    return save_checkpoint(path, model, kind="bert", model_config=model.config.to_dict(),
                           extra_files=extra)


def load_bert(path: str | os.PathLike, device: str | torch.device = "cpu"
              ) -> BertForMaskedLM | BertClassifier:
    """Rebuild a BERT (MLM or classifier, by the checkpoint's kind) from a checkpoint folder."""
    from nanonlp.training.checkpoint import load_weights, read_meta

    meta = read_meta(path)
    kind = meta.get("kind")
    if kind not in ("bert", "bert-classifier"):
        raise DataError(f"{path}: a {kind!r} checkpoint, not a BERT one")
    mc = dict(meta["model_config"])
    try:
        if kind == "bert":
            model: nn.Module = BertForMaskedLM(BertConfig.from_dict(mc))
        else:
            labels, task, pooling = mc.pop("labels"), mc.pop("task"), mc.pop("pooling", "cls")
            model = BertClassifier(BertConfig.from_dict(mc), labels, task, pooling=pooling)
    except (ConfigError, TypeError, KeyError) as e:
        raise DataError(f"{path}: bad BERT config in config.json ({e})") from None
    load_weights(path, model, meta)
    return model.to(device).eval()
