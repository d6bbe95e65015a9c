"""A GRU encoder-decoder with additive attention (Bahdanau, Cho & Bengio 2015).

Notation: B batch, S source length, T target length, E embedding size, H GRU size,
K = 2H (bidirectional) or H key size, A attention size, V target vocabulary.

* Encoder: embeddings -> (bi)GRU over the packed source, so padding never enters a state.
  The decoder starts from ``tanh(W [h_fwd; h_bwd])`` of the last real token.
* Attention: ``e_tj = v^T tanh(W_q s_{t-1} + W_k h_j)`` (the paper's eq. 6, with the keys
  projected once per sentence), masked to ``-inf`` at padding before the softmax, so the
  weights over real tokens sum to 1 and padding gets exactly 0.
* Decoder step: ``s_t = GRU([emb(y_{t-1}); c_t], s_{t-1})``; a readout
  ``r_t = tanh(W_r [s_t; c_t; emb(y_{t-1})])`` of size E (the paper's "deep output", tanh in
  place of its maxout), then logits ``E_y r_t + b`` with the target embeddings ``E_y`` reused
  as the output matrix (Press & Wolf 2017; ``tie_embeddings``), else a separate ``W_o``.
  The readout keeps the output layer at E x V rather than (H + K + E) x V, which is most of
  the decoder's arithmetic on a CPU.

Training is teacher-forced (the decoder reads the reference prefix); the output layer runs
once over all steps. Decoding lives in :mod:`nanonlp.seq2seq.translate`. Left out: input
feeding (Luong et al. 2015), coverage, scheduled sampling.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from nanonlp.errors import ConfigError, DataError
from nanonlp.seq2seq.config import Seq2SeqConfig
from nanonlp.seq2seq.vocab import PAD

KIND = "seq2seq"


@dataclass
class Encoded:
    """What the decoder needs from the encoder, for B sentences."""

    keys: torch.Tensor  # (B, S, K) encoder states
    proj: torch.Tensor  # (B, S, A) W_k keys, computed once
    mask: torch.Tensor  # (B, S) True at real tokens
    hidden: torch.Tensor  # (B, H) initial decoder state

    def index(self, rows: torch.Tensor) -> Encoded:
        """The rows ``rows`` (beam search repeats and reorders sentences)."""
        return Encoded(self.keys[rows], self.proj[rows], self.mask[rows], self.hidden[rows])


class Encoder(nn.Module):
    def __init__(self, cfg: Seq2SeqConfig):
        super().__init__()
        self.embed = nn.Embedding(cfg.src_vocab, cfg.emb_dim, padding_idx=PAD)
        self.rnn = nn.GRU(cfg.emb_dim, cfg.hidden, batch_first=True,
                          bidirectional=cfg.bidirectional)
        dirs = 2 if cfg.bidirectional else 1
        self.bridge = nn.Linear(dirs * cfg.hidden, cfg.hidden)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """src (B, S) -> states (B, S, K), decoder start (B, H), mask (B, S)."""
        mask = src != PAD
        lengths = mask.sum(1).clamp(min=1).cpu()
        x = self.drop(self.embed(src))  # (B, S, E)
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, h = self.rnn(packed)  # h: (dirs, B, H), each direction's last real state
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=src.size(1))
        h = torch.cat(list(h), dim=-1)  # (B, dirs * H)
        return out, torch.tanh(self.bridge(h)), mask


class AdditiveAttention(nn.Module):
    """Bahdanau attention: a one-hidden-layer MLP scores each key against the query."""

    def __init__(self, query_dim: int, key_dim: int, attn_dim: int):
        super().__init__()
        self.W_q = nn.Linear(query_dim, attn_dim, bias=False)
        self.W_k = nn.Linear(key_dim, attn_dim)
        self.v = nn.Linear(attn_dim, 1, bias=False)

    def forward(self, query: torch.Tensor, enc: Encoded) -> tuple[torch.Tensor, torch.Tensor]:
        """query (B, H) -> context (B, K), weights (B, S) (0 at padding, rows sum to 1)."""
        scores = self.v(torch.tanh(enc.proj + self.W_q(query)[:, None])).squeeze(-1)  # (B, S)
        scores = scores.masked_fill(~enc.mask, float("-inf"))
        weights = torch.softmax(scores, dim=-1)  # (B, S)
        context = torch.bmm(weights[:, None], enc.keys).squeeze(1)  # (B, K)
        return context, weights


class Seq2Seq(nn.Module):
    """``model(src, tgt_in, targets=tgt_out) -> (logits (B, T, V), loss)``, the shared contract."""

    ignore_index = PAD  # target positions the loss skips (the Trainer counts the rest)

    def __init__(self, cfg: Seq2SeqConfig, generator: torch.Generator | None = None):
        super().__init__()
        self.config = cfg
        K = cfg.hidden * (2 if cfg.bidirectional else 1)
        self.encoder = Encoder(cfg)
        self.attention = AdditiveAttention(cfg.hidden, K, cfg.attn_dim)
        self.embed = nn.Embedding(cfg.tgt_vocab, cfg.emb_dim, padding_idx=PAD)
        self.cell = nn.GRUCell(cfg.emb_dim + K, cfg.hidden)
        self.readout = nn.Linear(cfg.hidden + K + cfg.emb_dim, cfg.emb_dim)
        if cfg.tie_embeddings:
            self.out_bias = nn.Parameter(torch.zeros(cfg.tgt_vocab))
        else:
            self.out = nn.Linear(cfg.emb_dim, cfg.tgt_vocab)
        self.drop = nn.Dropout(cfg.dropout)
        if generator is not None:
            self._init(generator)

    @torch.no_grad()
    def _init(self, g: torch.Generator) -> None:
        # uniform(+-1/sqrt(fan_in)) as PyTorch's RNN and linear layers do, small normal
        # embeddings; drawn from ``g`` so building a model neither uses nor moves the global RNG
        for name, p in self.named_parameters():
            if "embed" in name:
                p.normal_(0.0, 0.1, generator=g)
            elif name == "out_bias":
                p.zero_()
            else:
                bound = 1.0 / (p.shape[-1] if p.dim() > 1 else p.shape[0]) ** 0.5
                p.uniform_(-bound, bound, generator=g)
        self.encoder.embed.weight[PAD].zero_()
        self.embed.weight[PAD].zero_()

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def encode(self, src: torch.Tensor) -> Encoded:
        keys, hidden, mask = self.encoder(src)
        return Encoded(keys, self.attention.W_k(keys), mask, hidden)

    def step(self, y_prev: torch.Tensor, h: torch.Tensor, enc: Encoded
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One decoder step: y_prev (B,), h (B, H) -> logits (B, V), new h, weights (B, S)."""
        emb = self.drop(self.embed(y_prev))  # (B, E)
        context, weights = self.attention(h, enc)  # attend with s_{t-1}
        h = self.cell(torch.cat([emb, context], -1), h)  # (B, H)
        logits = self.logits(torch.cat([h, context, emb], -1))  # (B, V)
        return logits, h, weights

    def logits(self, feats: torch.Tensor) -> torch.Tensor:
        """(..., H + K + E) decoder features -> (..., V) logits through the readout."""
        r = torch.tanh(self.readout(self.drop(feats)))  # (..., E)
        if self.config.tie_embeddings:
            return F.linear(r, self.embed.weight, self.out_bias)
        return self.out(r)

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor,
                targets: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        enc = self.encode(src)
        emb = self.drop(self.embed(tgt_in))  # (B, T, E)
        h = enc.hidden
        feats = []
        for t in range(tgt_in.size(1)):
            context, _ = self.attention(h, enc)  # (B, K)
            h = self.cell(torch.cat([emb[:, t], context], -1), h)
            feats.append(torch.cat([h, context, emb[:, t]], -1))
        # one readout and output matmul for every step: (B, T, H + K + E) -> (B, T, V)
        logits = self.logits(torch.stack(feats, 1))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=PAD,
                                   label_smoothing=self.config.label_smoothing)
        return logits, loss


def load_model(path: str | os.PathLike, device: torch.device | str = "cpu") -> Seq2Seq:
    """Rebuild a :class:`Seq2Seq` from a checkpoint folder (eval mode)."""
    from nanonlp.training import checkpoint as ckpt

    meta = ckpt.read_meta(path, KIND)
    try:
        model = Seq2Seq(Seq2SeqConfig.from_dict(meta["model_config"]))
    except (ConfigError, TypeError, KeyError, AttributeError) as e:
        raise DataError(f"{path}: bad seq2seq config in config.json ({e})") from None
    ckpt.load_weights(path, model, meta)
    return model.to(device).eval()
