"""Export a GPT to a folder ``transformers.GPT2LMHeadModel.from_pretrained`` loads.

The HF model is built locally from a ``GPT2Config`` (no hub access), our weights are copied
in, and HF's own ``save_pretrained`` writes ``config.json`` + ``model.safetensors``; the
tokenizer goes beside them as ``tokenizer.json`` (nanonlp BPE via
:func:`nanonlp.bpe.export.save_hf`; a character vocabulary as a ``tokenizers`` WordLevel
model over single characters). Only GPT-2-compatible options export: learned positions,
LayerNorm, no QK-norm, no logit soft-cap (ReLU^2 is HF's ``relu2``; an untied head and
zero-initialised projections are plain weights). Without biases we export zero biases,
which is the same function.

HF's GPT-2 stores Linear weights as ``Conv1D`` (in, out): ours are (out, in), so every
attention and MLP matrix is transposed on the way out.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import torch

from nanonlp.errors import ConfigError
from nanonlp.fileio import atomic_write
from nanonlp.gpt.model import GPT

CONV1D = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")
#: our activation -> HF's ``activation_function`` (``gelu_new`` is GPT-2's tanh GELU)
HF_ACTIVATION = {"gelu_tanh": "gelu_new", "gelu": "gelu", "relu2": "relu2"}


def hf_config(model: GPT):
    """The ``transformers.GPT2Config`` of the same shape."""
    from transformers import GPT2Config

    c = model.config
    if not c.gpt2_compatible:
        raise ConfigError(f"GPT-2 cannot hold this model ({', '.join(c.gpt2_incompatible)}); "
                          f"export needs norm=layernorm, pos=learned, no qk_norm, no "
                          f"logit_softcap")
    return GPT2Config(vocab_size=c.vocab_size, n_positions=c.block_size, n_embd=c.n_embd,
                      n_layer=c.n_layer, n_head=c.n_head, n_inner=c.n_inner,
                      activation_function=HF_ACTIVATION[c.activation],
                      resid_pdrop=c.dropout, embd_pdrop=c.dropout, attn_pdrop=c.dropout,
                      layer_norm_epsilon=c.norm_eps, tie_word_embeddings=c.tie_weights,
                      bos_token_id=None, eos_token_id=None)


def hf_state_dict(model: GPT) -> dict[str, torch.Tensor]:
    """Our weights under HF GPT-2 names (Conv1D matrices transposed, missing biases zero)."""
    ours = model.state_dict()
    out: dict[str, torch.Tensor] = {}
    for name, t in ours.items():
        if name.endswith(CONV1D):
            out[name] = t.t().contiguous()
        else:  # a copy in row-major order, whatever layout generate() left (decoding_layout_)
            out[name] = t.clone(memory_format=torch.contiguous_format)
    if not model.config.bias:
        c = model.config
        for i in range(c.n_layer):
            p = f"transformer.h.{i}."
            for sub, width in (("ln_1", c.n_embd), ("ln_2", c.n_embd),
                               ("attn.c_attn", 3 * c.n_embd), ("attn.c_proj", c.n_embd),
                               ("mlp.c_fc", c.n_inner or 4 * c.n_embd),
                               ("mlp.c_proj", c.n_embd)):
                out[p + sub + ".bias"] = torch.zeros(width)
        out["transformer.ln_f.bias"] = torch.zeros(c.n_embd)
    return out


def to_hf(model: GPT):
    """A ``transformers.GPT2LMHeadModel`` computing the same logits as ``model``."""
    from transformers import GPT2LMHeadModel

    hf = GPT2LMHeadModel(hf_config(model))
    missing, unexpected = hf.load_state_dict(hf_state_dict(model), strict=False)
    # HF keeps no persistent buffers we would miss; a tied lm_head is filled by tying
    missing = [k for k in missing if not (k == "lm_head.weight" and model.config.tie_weights)]
    if missing or unexpected:
        raise RuntimeError(f"GPT-2 names do not match: missing {missing}, extra {unexpected}")
    if model.config.tie_weights:
        hf.tie_weights()
    return hf.eval()


def char_tokenizer_json(tok) -> dict:
    """A ``tokenizers`` WordLevel model that splits text into single characters."""
    vocab = {c: i for i, c in enumerate(tok.chars)}
    added = [{"id": i, "content": s, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for s, i in tok.special_tokens.items()]
    return {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "[\\s\\S]"},
                          "behavior": "Isolated", "invert": False},
        "post_processor": None,
        "decoder": {"type": "Fuse"},
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": tok.chars[0]},
    }


def export_hf(model: GPT, out: str | os.PathLike, tokenizer=None) -> Path:
    """Write the HF folder (config.json, model.safetensors, tokenizer.json); returns it.

    The files are written into a temporary folder beside ``out`` and moved in one by one, so
    a failed export leaves an earlier export intact.
    """
    out = Path(out)
    hf = to_hf(model.cpu())  # refuses a model GPT-2 cannot hold before anything is created
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.") as tmp:
        hf.save_pretrained(tmp)
        if tokenizer is not None:
            if hasattr(tokenizer, "chars"):
                with atomic_write(Path(tmp) / "tokenizer.json") as f:
                    json.dump(char_tokenizer_json(tokenizer), f, ensure_ascii=False, indent=1)
            else:
                from nanonlp.bpe.export import save_hf

                save_hf(tokenizer, Path(tmp) / "tokenizer.json")
                if "<|assistant_start|>" in tokenizer.special_tokens:  # a chat model
                    from nanonlp.gpt.chat import write_chat_template

                    write_chat_template(tmp)
        for f in Path(tmp).iterdir():
            os.replace(f, out / f.name) if f.is_file() else shutil.move(str(f), out / f.name)
    return out
