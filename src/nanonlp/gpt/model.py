"""The GPT model: a decoder-only transformer language model (Radford et al. 2018, 2019).

Token embedding + position (learned table, or rotary inside attention: Su et al. 2021), a stack
of pre-norm causal blocks from :mod:`nanonlp.layers`, a final norm and an output layer tied to
the token embedding (Press & Wolf 2017), or its own. Options from the modded-nanogpt speedrun
(Jordan et al. 2024): ReLU^2 MLPs, zero-initialised output projections, an untied head, and
logit soft-capping (Gemma Team 2024), each a :class:`GPTConfig` field. The parameter names
follow nanoGPT and HF's GPT-2 (``transformer.wte``, ``transformer.h.0.attn.c_attn``, ...),
which keeps the export a renaming.

Contract (shared with BERT and seq2seq): ``forward(idx, targets=None) -> (logits, loss)``.
For generation, :meth:`GPT.forward_cached` runs only the new positions against a KV cache.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from nanonlp.bpe.formats import TOKENIZER_FILE
from nanonlp.errors import ConfigError, DataError
from nanonlp.gpt.config import ACTIVATIONS, GPTConfig
from nanonlp.layers import Block, KVCache, Linear, init_gpt2_, make_norm, rotary_tables


class GPT(nn.Module):
    """``model(idx, targets=None) -> (logits (B, T, V), loss)``: GPT-2's decoder stack."""

    ignore_index = -1  # target positions the loss skips (the Trainer counts the rest)
    output_layers = ("lm_head",)  # modules Muon leaves to AdamW (training.muon.muon_params)

    def __init__(self, config: GPTConfig, generator: torch.Generator | None = None):
        super().__init__()
        self.config = config
        c = config
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(c.vocab_size, c.n_embd),
            drop=nn.Dropout(c.dropout),
            h=nn.ModuleList(Block(c.n_embd, c.n_head, causal=True, bias=c.bias,
                                  dropout=c.dropout, norm=c.norm, qk_norm=c.qk_norm,
                                  gelu=ACTIVATIONS[c.activation], norm_eps=c.norm_eps,
                                  mlp_hidden=c.n_inner, qk_norm_kind=c.qk_norm_kind)
                            for _ in range(c.n_layer)),
            ln_f=make_norm(c.norm, c.n_embd, c.bias, c.norm_eps),
        ))
        if c.pos == "learned":
            self.transformer["wpe"] = nn.Embedding(c.block_size, c.n_embd)
        else:
            cos, sin = rotary_tables(c.n_embd // c.n_head, c.block_size)
            # buffers follow .to(device) but are not weights: not saved in checkpoints
            self.register_buffer("rope_cos", cos, persistent=False)
            self.register_buffer("rope_sin", sin, persistent=False)
        self.lm_head = Linear(c.n_embd, c.vocab_size, bias=False)
        if c.tie_weights:
            self.lm_head.weight = self.transformer.wte.weight
        self.reset_parameters(generator)

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """GPT-2's initialisation, drawn from ``generator`` (reproducible given its seed)."""
        if generator is None:
            generator = torch.Generator().manual_seed(0)
        init_gpt2_(self, self.config.n_layer, generator=generator)
        if self.config.zero_init_proj:
            # every block then adds 0 to the residual stream: the network starts as the
            # embedding read out by the head, and each block learns what to add
            for block in self.transformer.h:
                nn.init.zeros_(block.attn.c_proj.weight)
                nn.init.zeros_(block.mlp.c_proj.weight)

    def num_params(self, embeddings: bool = False) -> int:
        """Parameter count; by default without the position table (as GPT-2 papers count)."""
        n = sum(p.numel() for p in self.parameters())
        if not embeddings and "wpe" in self.transformer:
            n -= self.transformer.wpe.weight.numel()
        return n

    def _embed(self, idx: torch.Tensor, offset: int) -> tuple[torch.Tensor, tuple | None]:
        T = idx.shape[1]
        if offset + T > self.config.block_size:
            raise ConfigError(f"sequence of {offset + T} tokens is longer than block_size "
                              f"{self.config.block_size}")
        x = self.transformer.wte(idx)  # (B, T, C)
        rotary = None
        if self.config.pos == "learned":
            pos = torch.arange(offset, offset + T, device=idx.device)  # (T,)
            x = x + self.transformer.wpe(pos)  # (B, T, C) + (T, C)
        else:
            rotary = (self.rope_cos[offset:offset + T], self.rope_sin[offset:offset + T])
        return self.transformer.drop(x), rotary

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """idx (B, T) token ids -> logits (B, T, vocab) and, given targets (B, T), the mean
        cross-entropy over targets that are not -1."""
        x, rotary = self._embed(idx, 0)
        for block in self.transformer.h:
            x, _ = block(x, rotary=rotary)
        logits = self._logits(x)  # (B, T, V)
        loss = None
        if targets is not None:
            # label smoothing (Szegedy et al. 2016) while training only: evaluation in eval
            # mode reports the plain cross-entropy, whose exponent is the perplexity
            smooth = self.config.label_smoothing if self.training else 0.0
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1),
                                   ignore_index=-1, label_smoothing=smooth)
        return logits, loss

    def forward_cached(self, idx: torch.Tensor, cache: list[KVCache] | None = None
                       ) -> tuple[torch.Tensor, list[KVCache]]:
        """Run the new tokens idx (B, T) after the ``cache`` of earlier positions; return the
        logits (B, T, V) and the cache extended by these positions (one (k, v) per block)."""
        offset = 0 if cache is None else cache[0][0].shape[2]
        x, rotary = self._embed(idx, offset)
        new_cache = []
        for i, block in enumerate(self.transformer.h):
            x, kv = block(x, None if cache is None else cache[i], rotary=rotary)
            new_cache.append(kv)
        return self._logits(x), new_cache

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        """Final norm and head: (B, T, C) -> (B, T, V), soft-capped if the config says so."""
        logits = self.lm_head(self.transformer.ln_f(x))
        cap = self.config.logit_softcap
        if cap is not None:
            # tanh keeps small logits as they are and bends large ones towards +-cap, so no
            # token's logit can run away while the loss pushes on it (Gemma 2, modded-nanogpt)
            logits = cap * torch.tanh(logits / cap)
        return logits


def save_gpt(model: GPT, path, tokenizer_file=None):
    """Write a weights-only checkpoint folder (config.json + model.safetensors [+ tokenizer])."""
    from pathlib import Path

    from nanonlp.training.checkpoint import save_checkpoint

    extra = {TOKENIZER_FILE: Path(tokenizer_file).read_bytes()} if tokenizer_file else None
    return save_checkpoint(path, model, kind="gpt", model_config=model.config.to_dict(),
                           extra_files=extra)


def load_gpt(path, device: str | torch.device = "cpu") -> GPT:
    """Rebuild a GPT from a checkpoint folder (``last/``, ``best/`` or :func:`save_gpt`'s).

    A folder from another model kind, a config this GPT does not know, or weights that do not
    fit the config are :class:`DataError`s naming the folder.
    """
    from nanonlp.training.checkpoint import load_weights, read_meta

    meta = read_meta(path, "gpt")
    try:
        config = GPTConfig.from_dict(meta["model_config"])
    except (ConfigError, TypeError, KeyError) as e:
        raise DataError(f"{path}: bad GPT config in config.json ({e})") from None
    model = GPT(config)
    load_weights(path, model, meta)
    return model.to(device).eval()
