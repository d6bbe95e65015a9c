"""Export a BERT MLM checkpoint to a folder ``transformers.BertForMaskedLM.from_pretrained`` loads.

The HF model is built locally from a ``BertConfig`` (no hub access), our weights are renamed
into it (our fused q/k/v matrix is split into HF's ``query``, ``key``, ``value``), and HF's own
``save_pretrained`` writes ``config.json`` + ``model.safetensors``; the tokenizer goes beside
them as ``tokenizer.json`` (:func:`nanonlp.bpe.export.save_hf`), or for an imported BERT's
WordPiece as ``vocab.txt`` + ``tokenizer_config.json``. The two models compute the
same logits: post-LN blocks, exact GELU, learned positions, token types, the MLM transform and
a decoder tied to the word embeddings with its own bias (HF names as of transformers 5).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch

from nanonlp.bert.model import BertForMaskedLM
from nanonlp.errors import ConfigError


def hf_config(model: BertForMaskedLM):
    """The ``transformers.BertConfig`` of the same shape."""
    from transformers import BertConfig as HFBertConfig

    c = model.config
    return HFBertConfig(vocab_size=c.vocab_size, hidden_size=c.n_embd,
                        num_hidden_layers=c.n_layer, num_attention_heads=c.n_head,
                        intermediate_size=c.n_inner or 4 * c.n_embd, hidden_act="gelu",
                        hidden_dropout_prob=c.dropout, attention_probs_dropout_prob=c.dropout,
                        max_position_embeddings=c.block_size, type_vocab_size=c.type_vocab_size,
                        layer_norm_eps=c.norm_eps, pad_token_id=c.pad_id,
                        tie_word_embeddings=True)


def hf_state_dict(model: BertForMaskedLM) -> dict[str, torch.Tensor]:
    """Our weights under HF ``BertForMaskedLM`` names."""
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    C = model.config.n_embd
    out = {
        "bert.embeddings.word_embeddings.weight": sd["bert.wte.weight"],
        "bert.embeddings.position_embeddings.weight": sd["bert.wpe.weight"],
        "bert.embeddings.token_type_embeddings.weight": sd["bert.wtt.weight"],
        "bert.embeddings.LayerNorm.weight": sd["bert.ln_emb.weight"],
        "bert.embeddings.LayerNorm.bias": sd["bert.ln_emb.bias"],
        "cls.predictions.transform.dense.weight": sd["head.dense.weight"],
        "cls.predictions.transform.dense.bias": sd["head.dense.bias"],
        "cls.predictions.transform.LayerNorm.weight": sd["head.ln.weight"],
        "cls.predictions.transform.LayerNorm.bias": sd["head.ln.bias"],
        "cls.predictions.bias": sd["head_bias"],
        "cls.predictions.decoder.weight": sd["bert.wte.weight"],
        "cls.predictions.decoder.bias": sd["head_bias"],
    }
    for i in range(model.config.n_layer):
        o, h = f"bert.h.{i}.", f"bert.encoder.layer.{i}."
        w, b = sd[o + "attn.c_attn.weight"], sd[o + "attn.c_attn.bias"]  # (3C, C), (3C,)
        for j, name in enumerate(("query", "key", "value")):
            out[h + f"attention.self.{name}.weight"] = w[j * C:(j + 1) * C].clone()
            out[h + f"attention.self.{name}.bias"] = b[j * C:(j + 1) * C].clone()
        for ours, theirs in (("attn.c_proj", "attention.output.dense"),
                             ("ln_1", "attention.output.LayerNorm"),
                             ("mlp.c_fc", "intermediate.dense"),
                             ("mlp.c_proj", "output.dense"),
                             ("ln_2", "output.LayerNorm")):
            out[h + theirs + ".weight"] = sd[o + ours + ".weight"]
            out[h + theirs + ".bias"] = sd[o + ours + ".bias"]
    return out


def to_hf(model: BertForMaskedLM):
    """A ``transformers.BertForMaskedLM`` computing the same logits as ``model``."""
    from transformers import BertForMaskedLM as HFBertForMaskedLM

    if not isinstance(model, BertForMaskedLM):
        raise ConfigError("only a pretrained (MLM) BERT exports to BertForMaskedLM; this "
                          f"checkpoint is a {type(model).__name__}")
    if model.config.prenorm:
        raise ConfigError("a pre-norm BERT (prenorm=true) has no transformers BERT "
                          "counterpart; only post-norm checkpoints export")
    hf = HFBertForMaskedLM(hf_config(model))
    missing, unexpected = hf.load_state_dict(hf_state_dict(model), strict=False)
    if missing or unexpected:
        raise RuntimeError(f"BERT names do not match: missing {missing}, extra {unexpected}")
    return hf.eval()


def export_hf(model: BertForMaskedLM, out: str | os.PathLike, tokenizer=None,
              embedding: dict[str, Any] | None = None) -> Path:
    """Write the HF folder (config.json, model.safetensors, tokenizer.json); returns it.
    With a WordPiece ``tokenizer`` and an ``embedding`` (a checkpoint's ``embedding.json``,
    :func:`nanonlp.bert.embed.checkpoint_embedding`), the folder is also a
    sentence-transformers model (:func:`nanonlp.bert.sentence.write_modules`).

    Written into a temporary folder beside ``out`` and moved in file by file, so a failed
    export leaves an earlier one intact.
    """
    from nanonlp.bert.sentence import write_modules

    out = Path(out)
    hf = to_hf(model.cpu())
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.") as tmp:
        hf.save_pretrained(tmp)
        if hasattr(tokenizer, "save_hf"):  # an imported BERT's WordPiece: vocab.txt again
            tokenizer.save_hf(tmp)
            if embedding is not None:  # sentence-transformers tokenizes as this WordPiece
                write_modules(tmp, {**embedding, "max_seq_length": embedding.get(
                    "max_seq_length") or model.config.block_size}, model.config.n_embd,
                    model.config.lowercase)
        elif tokenizer is not None:
            from nanonlp.bpe.export import to_hf_json

            spec = to_hf_json(tokenizer)
            if model.config.lowercase:  # an uncased model: HF lower-cases before the BPE
                spec["normalizer"] = {"type": "Lowercase"}
            (Path(tmp) / "tokenizer.json").write_text(json.dumps(spec, ensure_ascii=False),
                                                      encoding="utf-8")
        for f in Path(tmp).iterdir():
            os.replace(f, out / f.name) if f.is_file() else shutil.move(str(f), out / f.name)
    return out


def export_checkpoint(checkpoint: str | os.PathLike, out: str | os.PathLike
                      ) -> tuple[Path, bool]:
    """``bert export``: a checkpoint folder -> an HF folder (see :func:`export_hf`); also
    whether it is a sentence-transformers folder (the checkpoint has ``embedding.json`` and
    a WordPiece vocabulary, as one imported from such a folder has)."""
    from nanonlp.bert.data import load_tokenizer
    from nanonlp.bert.embed import EMBEDDING_FILE, checkpoint_embedding
    from nanonlp.bert.model import load_bert

    tok = load_tokenizer(checkpoint)
    has = (Path(checkpoint) / EMBEDDING_FILE).is_file()
    embedding = checkpoint_embedding(checkpoint) if has else None
    out = export_hf(load_bert(checkpoint), out, tok, embedding)
    return out, has and hasattr(tok, "save_hf")
