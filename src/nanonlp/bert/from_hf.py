"""Import a transformers BERT folder as a nanonlp BERT (MLM) checkpoint.

The reverse of :mod:`nanonlp.bert.export`. ``config.json`` maps onto a :class:`BertConfig`
(:func:`config_from_hf`); HF's separate ``query``, ``key`` and ``value`` matrices go into our
fused ``c_attn`` (rows q, then k, then v), and the rest is a renaming, read one tensor at a
time (:mod:`nanonlp.hf_folder`). Three kinds of folder:

* ``BertForMaskedLM``: encoder and MLM head, the same logits as HF's;
* ``BertForPreTraining`` (and Google's original checkpoints as HF converted them, which say
  ``BertForMaskedLM`` but keep TensorFlow's ``LayerNorm.gamma``/``beta`` names): the pooler
  and the next-sentence head are left out (our MLM checkpoint has neither; ``bert finetune``
  starts its pooler fresh, as it does on our own pretrained models);
* ``BertModel`` (no MLM head): the head starts from BERT's initialisation, and the import
  says so: fill-mask means nothing until the head is trained; fine-tuning, which uses the
  encoder only, is unaffected.

The folder's WordPiece vocabulary (``vocab.txt`` with ``tokenizer_config.json``, or
``tokenizer.json``) becomes the checkpoint's ``tokenizer.model``
(:class:`~nanonlp.bpe.wordpiece.WordPiece`, with the folder's casing), and its ``[PAD]``,
``[MASK]``, ``[CLS]``, ``[SEP]`` ids go into the config. ``lowercase`` stays false: the
WordPiece does the case folding (and accent stripping) the model was trained with.

A sentence-transformers folder (``modules.json``: Transformer, Pooling, optional Normalize)
is read through :mod:`nanonlp.bert.sentence`: the BERT from its Transformer module, and its
pooling, normalisation and length limit into the checkpoint's ``embedding.json``, so that
``bert embed`` gives what ``SentenceTransformer(folder).encode`` gives.

Left out: relative position embeddings, decoder BERTs (cross-attention), an untied decoder.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from nanonlp.bert.config import BertConfig
from nanonlp.bert.model import BertForMaskedLM
from nanonlp.errors import ConfigError, DataError
from nanonlp.hf_folder import (
    check_model_type,
    check_out,
    iter_tensors,
    read_json,
    weight_files,
)

ARCHITECTURES = ("BertForMaskedLM", "BertForPreTraining", "BertModel")
#: config fields that must hold these values for our BERT to compute what HF's does
REQUIRED = {"hidden_act": "gelu", "position_embedding_type": "absolute", "is_decoder": False,
            "add_cross_attention": False, "tie_word_embeddings": True}
EMBEDDINGS = {"embeddings.word_embeddings.weight": "bert.wte.weight",
              "embeddings.position_embeddings.weight": "bert.wpe.weight",
              "embeddings.token_type_embeddings.weight": "bert.wtt.weight",
              "embeddings.LayerNorm.weight": "bert.ln_emb.weight",
              "embeddings.LayerNorm.bias": "bert.ln_emb.bias"}
HEAD = {"cls.predictions.transform.dense.weight": "head.dense.weight",
        "cls.predictions.transform.dense.bias": "head.dense.bias",
        "cls.predictions.transform.LayerNorm.weight": "head.ln.weight",
        "cls.predictions.transform.LayerNorm.bias": "head.ln.bias",
        "cls.predictions.bias": "head_bias",
        "cls.predictions.decoder.bias": "head_bias"}  # the same tensor as predictions.bias
#: within encoder.layer.{i}: HF's module -> ours
LAYER = {"attention.output.dense": "attn.c_proj", "attention.output.LayerNorm": "ln_1",
         "intermediate.dense": "mlp.c_fc", "output.dense": "mlp.c_proj",
         "output.LayerNorm": "ln_2"}
QKV = ("query", "key", "value")
#: tensors our MLM checkpoint has no place for: what they are, for the report
DROPPED = {"pooler.": "pooler", "cls.seq_relationship.": "next-sentence head"}
SKIP = ("embeddings.position_ids", "cls.predictions.decoder.weight")  # a buffer; tied to wte


def config_from_hf(d: dict[str, Any], specials: dict[str, int],
                   where: str = "config.json") -> BertConfig:
    """The :class:`BertConfig` of a ``transformers.BertConfig`` dict and the tokenizer's
    special ids (``pad_id``, ``mask_id``, ``cls_id``, ``sep_id``).

    >>> c = config_from_hf({"model_type": "bert", "vocab_size": 30522, "hidden_size": 768,
    ...                     "num_hidden_layers": 12, "num_attention_heads": 12,
    ...                     "intermediate_size": 3072, "max_position_embeddings": 512},
    ...                    {"pad_id": 0, "cls_id": 101, "sep_id": 102, "mask_id": 103})
    >>> c.n_inner, c.block_size, c.norm_eps, c.dropout, c.prenorm
    (None, 512, 1e-12, 0.1, False)
    """
    check_model_type(d, where, "bert", "BERT", ARCHITECTURES, REQUIRED, "bert")

    def need(key: str) -> Any:
        if d.get(key) is None:
            raise DataError(f"{where}: no {key!r}")
        return d[key]

    C, inner = need("hidden_size"), need("intermediate_size")
    try:
        return BertConfig(
            vocab_size=need("vocab_size"), block_size=need("max_position_embeddings"),
            n_layer=need("num_hidden_layers"), n_head=need("num_attention_heads"), n_embd=C,
            n_inner=None if inner == 4 * C else inner,
            type_vocab_size=d.get("type_vocab_size", 2),
            dropout=max(float(d.get("hidden_dropout_prob", 0.1)),  # one rate in our BERT
                        float(d.get("attention_probs_dropout_prob", 0.1))),
            norm_eps=float(d.get("layer_norm_eps", 1e-12)), prenorm=False, lowercase=False,
            **specials)
    except (ConfigError, TypeError, ValueError) as e:
        raise DataError(f"{where}: {e}") from None


def our_name(hf_name: str) -> tuple[str, int | None] | str | None:
    """Where an HF BERT tensor goes: ``(our name, q/k/v block or None)``; None for a tensor to
    skip; a string naming what is dropped (pooler, next-sentence head); "" if unknown.

    >>> our_name("bert.encoder.layer.1.attention.self.key.weight")
    ('bert.h.1.attn.c_attn.weight', 1)
    >>> our_name("embeddings.LayerNorm.gamma"), our_name("bert.pooler.dense.bias")
    (('bert.ln_emb.weight', None), 'pooler')
    """
    name = hf_name.removeprefix("bert.")
    if "LayerNorm." in name:  # TensorFlow's names in Google's original checkpoints
        name = re.sub(r"\.gamma$", ".weight", re.sub(r"\.beta$", ".bias", name))
    if name in SKIP:
        return None
    for prefix, what in DROPPED.items():
        if name.startswith(prefix):
            return what
    if name in EMBEDDINGS:
        return EMBEDDINGS[name], None
    if name in HEAD:
        return HEAD[name], None
    m = re.fullmatch(r"encoder\.layer\.(\d+)\.(.+)\.(weight|bias)", name)
    if m:
        i, module, kind = m.groups()
        if module.startswith("attention.self.") and module[15:] in QKV:
            return f"bert.h.{i}.attn.c_attn.{kind}", QKV.index(module[15:])
        if module in LAYER:
            return f"bert.h.{i}.{LAYER[module]}.{kind}", None
    return ""


@dataclass
class ImportReport:
    out: Path  # the checkpoint folder written
    config: BertConfig  # the model's config
    params: int  # parameters
    fresh_head: bool  # the folder had no MLM head: ours starts from BERT's initialisation
    dropped: list[str]  # what the folder had that the checkpoint leaves out
    embedding: dict[str, Any] | None = None  # a sentence-transformers folder's embedding.json


@torch.no_grad()
def load_hf(folder: str | os.PathLike, specials: dict[str, int]
            ) -> tuple[BertForMaskedLM, bool, list[str]]:
    """Our BERT with an HF folder's weights, whether its MLM head is fresh, and what was left
    out. ``specials`` are the tokenizer's ids (see :func:`config_from_hf`)."""
    folder = Path(folder)
    config = config_from_hf(read_json(folder / "config.json"), specials,
                            str(folder / "config.json"))
    files = weight_files(folder)
    model = BertForMaskedLM(config)
    own = model.state_dict()
    C = config.n_embd
    done: set[tuple[str, int | None]] = set()
    dropped: list[str] = []
    for path in files:
        for hf_name, t in iter_tensors(path):
            where = our_name(hf_name)
            if where is None:
                continue
            if isinstance(where, str):
                if not where:
                    raise DataError(f"{path}: unexpected tensor {hf_name!r} (not in a "
                                    f"{config.n_layer}-layer BERT)")
                dropped += [] if where in dropped else [where]
                continue
            name, block = where
            if name not in own:
                raise DataError(f"{path}: unexpected tensor {hf_name!r} (not in a "
                                f"{config.n_layer}-layer BERT)")
            dest = own[name] if block is None else own[name][block * C:(block + 1) * C]
            if t.shape != dest.shape:
                raise DataError(f"{path}: {hf_name} has shape {tuple(t.shape)}, the config "
                                f"wants {tuple(dest.shape)}")
            dest.copy_(t)  # casts half-precision files to float32
            done.add(where)
    want = {(k, j) for k in own for j in ((0, 1, 2) if ".attn.c_attn." in k else (None,))}
    missing = sorted({k for k, _ in want - done})
    head = {k for k in own if k.startswith("head")}
    fresh_head = head <= set(missing)  # no head tensor at all: BertModel
    if fresh_head:
        missing = [k for k in missing if k not in head]
    if missing:
        raise DataError(f"{folder}: missing weight(s) {', '.join(missing[:3])}"
                        + (f" and {len(missing) - 3} more" if len(missing) > 3 else ""))
    return model.eval(), fresh_head, dropped


def import_hf(folder: str | os.PathLike, out: str | os.PathLike) -> ImportReport:
    """Write the BERT checkpoint ``out`` (config.json, model.safetensors, tokenizer.model) of
    an HF BERT ``folder``; checked first, written whole or not at all. A sentence-transformers
    folder's pooling, normalisation and length limit go into ``embedding.json``
    (:mod:`nanonlp.bert.sentence`)."""
    from nanonlp.bert.data import TOKENIZER_FILE, special_ids
    from nanonlp.bert.embed import EMBEDDING_FILE
    from nanonlp.bert.sentence import embedding_record, read_modules
    from nanonlp.bpe.wordpiece import WordPiece
    from nanonlp.training.checkpoint import save_checkpoint

    folder, out = Path(folder), Path(out)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder")
    check_out(folder, out)
    st = read_modules(folder)  # None: a plain transformers folder
    bert = st.transformer if st else folder
    tok = WordPiece.from_hf(bert)
    specials = special_ids(tok, str(bert))
    # the vocabulary against config.json before any weight is read: an id past the
    # embedding table would fail only when a text first uses it
    config = config_from_hf(read_json(bert / "config.json"), specials, str(bert / "config.json"))
    if tok.vocab_size > config.vocab_size:
        spec = bert / "tokenizer.json"
        raise DataError(f"{spec if spec.is_file() else bert / 'vocab.txt'}: "
                        f"{tok.vocab_size:,} tokens, more than the model's vocab_size "
                        f"{config.vocab_size:,} (config.json)")
    embedding = embedding_record(st, config, mlm_head=True) if st else None
    model, fresh_head, dropped = load_hf(bert, specials)
    files = {TOKENIZER_FILE: tok.model_text().encode("utf-8")}
    if st:
        embedding["mlm_head"] = not fresh_head
        # sentence-transformers lower-cases before its tokenizer; our encoders do it by flag
        model.config.lowercase = st.do_lower_case
        files[EMBEDDING_FILE] = json.dumps(embedding, indent=1).encode("utf-8")
    save_checkpoint(out, model, kind="bert", model_config=model.config.to_dict(),
                    state={"imported_from": str(folder), "fresh_head": fresh_head},
                    extra_files=files)
    return ImportReport(out, model.config, model.num_params(), fresh_head, dropped, embedding)
