"""The BERT model configuration and the named presets (model shape + pretraining recipe).

Presets follow the small BERTs of Turc et al. 2019 ("Well-Read Students Learn Better"):
``mini`` is their 4 layers x 256 wide (4 heads), ``small`` 4 layers x 512 (8 heads); ``tiny``
here is 2 layers x 128 (2 heads, their "BERT-Tiny"), used by tests and smoke runs. The recipe
is BERT's (Devlin et al. 2019) scaled to a CPU: AdamW, linear warmup, decay, 15% masking,
sequences of 128 tokens (the length of BERT's first pretraining phase).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nanonlp.configs import ModelConfig, check_transformer_size
from nanonlp.errors import ConfigError
from nanonlp.training.config import pick_preset

#: the special tokens a BERT tokenizer must carry
SPECIALS = ("[CLS]", "[SEP]", "[MASK]", "[PAD]")


@dataclass
class BertConfig(ModelConfig):
    what = "BERT"  # (not a field: no annotation) names the model in errors

    vocab_size: int = 8192  # tokens in the vocabulary (set from the tokenizer when training)
    block_size: int = 128  # longest sequence, [CLS] and [SEP] included (position table size)
    n_layer: int = 4  # transformer blocks
    n_head: int = 4  # attention heads per block
    n_embd: int = 256  # hidden width
    n_inner: int | None = None  # MLP width (None: 4 * n_embd, as BERT)
    type_vocab_size: int = 2  # segment (token type) embeddings: sentence A and B
    dropout: float = 0.1  # hidden and attention dropout (BERT: 0.1)
    norm_eps: float = 1e-12  # LayerNorm epsilon (BERT's value; HF's layer_norm_eps)
    prenorm: bool = False  # pre-norm blocks + a final norm (trains faster; not HF-exportable)
    lowercase: bool = False  # an uncased BERT: text is lower-cased before tokenizing
    pad_id: int = 0  # id of [PAD]: keys with this id are masked out of attention
    mask_id: int = 1  # id of [MASK]
    cls_id: int = 2  # id of [CLS]
    sep_id: int = 3  # id of [SEP]

    def __post_init__(self):
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd",
                     "type_vocab_size"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ConfigError(f"{name} must be a positive integer, got {v!r}")
        if self.n_inner is not None and self.n_inner < 1:
            raise ConfigError(f"n_inner must be a positive integer or None, got {self.n_inner}")
        if self.n_embd % self.n_head:
            raise ConfigError(f"n_embd {self.n_embd} is not a multiple of n_head {self.n_head}")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")
        if not 0 < self.norm_eps < 1:
            raise ConfigError(f"norm_eps must be in (0, 1), got {self.norm_eps}")
        check_transformer_size("BERT", self.vocab_size, self.block_size, self.n_layer,
                               self.n_embd, self.n_inner)
        for name in ("pad_id", "mask_id", "cls_id", "sep_id"):
            v = getattr(self, name)
            if not 0 <= v < self.vocab_size:
                raise ConfigError(f"{name} {v} is outside the vocabulary "
                                  f"(0..{self.vocab_size - 1})")

    @property
    def special_ids(self) -> tuple[int, int, int, int]:
        return (self.cls_id, self.sep_id, self.mask_id, self.pad_id)


#: name -> {"model": BertConfig fields, "train": TrainConfig fields}
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "tiny": {
        "model": dict(block_size=64, n_layer=2, n_head=2, n_embd=128),
        "train": dict(max_steps=200, batch_size=16, lr=1e-3, min_lr=1e-4, warmup_steps=20,
                      beta2=0.98, eval_interval=50, eval_steps=5),
    },
    "mini": {
        # Turc et al. 2019 BERT-Mini: L=4, H=256, A=4
        "model": dict(block_size=128, n_layer=4, n_head=4, n_embd=256),
        "train": dict(max_steps=20000, batch_size=32, lr=1e-3, min_lr=1e-4, warmup_steps=500,
                      beta2=0.98, weight_decay=0.01, eval_interval=500, eval_steps=10),
    },
    "small": {
        # Turc et al. 2019 BERT-Small: L=4, H=512, A=8
        "model": dict(block_size=128, n_layer=4, n_head=8, n_embd=512),
        "train": dict(max_steps=20000, batch_size=32, lr=5e-4, min_lr=5e-5, warmup_steps=1000,
                      beta2=0.98, weight_decay=0.01, eval_interval=500, eval_steps=10),
    },
}


def presets(name: str | None = None) -> dict[str, Any]:
    """Preset ``name`` ({"model": ..., "train": ...}), or all of them: copies, safe to modify."""
    return pick_preset(PRESETS, name)

