"""Import a transformers GPT-2 folder (``GPT2LMHeadModel`` or ``GPT2Model``) as a GPT checkpoint.

The reverse of :mod:`nanonlp.gpt.export`. ``config.json`` maps field by field onto a
:class:`GPTConfig` (:func:`config_from_hf`); a field that would change what the network
computes and that our GPT cannot follow (cross-attention, attention scaled by layer index,
an unknown activation) is refused rather than dropped. The weights are read one tensor at a
time (``safetensors.safe_open`` maps the file; each tensor is copied into the GPT built from
the config and let go), so the model itself is the only full copy in memory. HF's ``Conv1D``
stores a matrix (in, out), ours are ``nn.Linear`` (out, in): those four per block are
transposed, as export transposes them on the way out.

A tokenizer in the folder (``tokenizer.json``, or GPT-2's ``vocab.json`` + ``merges.txt``)
becomes the checkpoint's ``tokenizer.model`` (:meth:`nanonlp.bpe.Tokenizer.from_hf`, same ids),
so ``gpt sample``, ``gpt prepare --tokenizer`` and ``gpt train --init`` work on the result.

Names: ``GPT2LMHeadModel.save_pretrained`` writes ours exactly (``transformer.h.0.attn.c_attn
.weight``; no ``lm_head.weight`` when it is tied); ``GPT2Model`` folders and older uploads
(OpenAI's ``gpt2``) leave out the ``transformer.`` prefix and carry the causal-mask buffers
``attn.bias`` / ``attn.masked_bias``, which are not weights and are skipped. Shards and a
``pytorch_model.bin`` (``torch.load(weights_only=True)`` only: a pickle that asks to run code
is refused) are read as :mod:`nanonlp.hf_folder` reads them.

Left out: the other GPT-2 heads (``GPT2DoubleHeadsModel``, ``GPT2ForSequenceClassification``)
and quantised (8-bit, 4-bit) weights.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from nanonlp.errors import DataError
from nanonlp.gpt.config import GPTConfig
from nanonlp.gpt.export import CONV1D
from nanonlp.gpt.model import GPT
from nanonlp.hf_folder import (
    check_model_type,
    check_out,
    iter_tensors,
    read_json,
    weight_files,
)

ARCHITECTURES = ("GPT2LMHeadModel", "GPT2Model")
#: HF ``activation_function`` -> ours (``gelu_new``, ``gelu_fast`` and ``gelu_pytorch_tanh`` are
#: three spellings of GELU's tanh approximation; ``gelu`` is the exact erf form)
ACTIVATIONS = {"gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh",
               "gelu_fast": "gelu_tanh", "gelu": "gelu", "gelu_python": "gelu"}
#: config fields that must hold these values for our GPT to compute what HF's does
REQUIRED = {"scale_attn_weights": True, "scale_attn_by_inverse_layer_idx": False,
            "add_cross_attention": False}
SKIP = (".attn.bias", ".attn.masked_bias")  # causal-mask buffers in older files: not weights


def config_from_hf(d: dict[str, Any], where: str = "config.json") -> GPTConfig:
    """The :class:`GPTConfig` of a ``transformers.GPT2Config`` (its ``config.json`` as a dict).

    >>> c = config_from_hf({"model_type": "gpt2", "vocab_size": 50257, "n_positions": 1024,
    ...                     "n_embd": 768, "n_layer": 12, "n_head": 12})
    >>> c.block_size, c.bias, c.activation, c.tie_weights, c.dropout
    (1024, True, 'gelu_tanh', True, 0.1)
    """
    check_model_type(d, where, "gpt2", "GPT-2", ARCHITECTURES, REQUIRED, "gpt")
    act = d.get("activation_function", "gelu_new")
    if act not in ACTIVATIONS:
        raise DataError(f"{where}: unknown activation_function {act!r}; nanonlp's GPT has "
                        f"{', '.join(ACTIVATIONS)}")

    def need(*keys: str) -> Any:
        for k in keys:  # the first key present (n_ctx is n_positions' older name)
            if d.get(k) is not None:
                return d[k]
        raise DataError(f"{where}: no {keys[0]!r}")

    # GPT2Config's own defaults stand in for fields an older config.json leaves out
    drops = [float(d.get(k, 0.1)) for k in ("resid_pdrop", "embd_pdrop", "attn_pdrop")]
    try:
        return GPTConfig(
            vocab_size=need("vocab_size"), block_size=need("n_positions", "n_ctx"),
            n_layer=need("n_layer"), n_head=need("n_head"), n_embd=need("n_embd"),
            n_inner=d.get("n_inner"), activation=ACTIVATIONS[act],
            norm_eps=float(d.get("layer_norm_epsilon", 1e-5)),
            dropout=max(drops),  # one rate in our GPT: the largest of HF's three
            bias=True, norm="layernorm", pos="learned", qk_norm=False,
            tie_weights=bool(d.get("tie_word_embeddings", True)))
    except (ValueError, TypeError) as e:
        raise DataError(f"{where}: {e}") from None


def our_name(hf_name: str) -> str | None:
    """Our parameter name for an HF GPT-2 tensor name (None: a buffer to skip).

    >>> our_name("h.0.attn.c_attn.weight"), our_name("transformer.wte.weight")
    ('transformer.h.0.attn.c_attn.weight', 'transformer.wte.weight')
    >>> our_name("lm_head.weight"), our_name("h.3.attn.masked_bias")
    ('lm_head.weight', None)
    """
    if hf_name.endswith(SKIP):
        return None
    if hf_name == "lm_head.weight":
        return hf_name
    return "transformer." + hf_name.removeprefix("transformer.")


@torch.no_grad()
def load_hf(folder: str | os.PathLike) -> GPT:
    """A GPT with the weights of an HF GPT-2 folder (computes HF's logits)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder")
    config = config_from_hf(read_json(folder / "config.json"), str(folder / "config.json"))
    files = weight_files(folder)  # before the model is built: a folder without weights fails fast
    model = GPT(config)
    own = model.state_dict()
    todo = set(own)
    if config.tie_weights:
        todo.discard("lm_head.weight")  # the same tensor as transformer.wte.weight
    for path in files:
        for hf_name, t in iter_tensors(path):
            name = our_name(hf_name)
            if name is None or (name == "lm_head.weight" and config.tie_weights):
                continue  # a mask buffer, or the tied head HF also ties on load
            if name not in own:
                raise DataError(f"{path}: unexpected tensor {hf_name!r} (not in a "
                                f"{config.n_layer}-layer GPT-2)")
            if not t.is_floating_point():
                raise DataError(f"{path}: {hf_name} holds {t.dtype}, not floating point")
            if name.endswith(CONV1D):
                t = t.t()  # Conv1D (in, out) -> Linear (out, in)
            if t.shape != own[name].shape:
                raise DataError(f"{path}: {hf_name} has shape {tuple(t.shape)}, the config "
                                f"wants {tuple(own[name].shape)}")
            own[name].copy_(t)  # casts half-precision files to our float32
            todo.discard(name)
    if todo:
        missing = sorted(todo)
        raise DataError(f"{folder}: missing weight(s) {', '.join(missing[:3])}"
                        + (f" and {len(missing) - 3} more" if len(missing) > 3 else ""))
    return model.eval()


def has_tokenizer(folder: Path) -> bool:
    return (folder / "tokenizer.json").is_file() or \
        ((folder / "vocab.json").is_file() and (folder / "merges.txt").is_file())


@dataclass
class ImportReport:
    out: Path  # the checkpoint folder written
    config: GPTConfig  # the model's config
    params: int  # parameters (the position table included)
    tokenizer: bool  # whether the folder's tokenizer came along (tokenizer.model)


def import_hf(folder: str | os.PathLike, out: str | os.PathLike) -> ImportReport:
    """Write the GPT checkpoint ``out`` (config.json, model.safetensors, tokenizer.model) of the
    HF GPT-2 ``folder``. Everything is read and checked first, and ``out`` is written whole
    or not at all; an existing ``out`` that is not a nanonlp checkpoint is refused."""
    from nanonlp.bpe import Tokenizer
    from nanonlp.bpe.formats import TOKENIZER_FILE
    from nanonlp.training.checkpoint import save_checkpoint

    folder, out = Path(folder), Path(out)
    check_out(folder, out)
    model = load_hf(folder)
    extra = {}
    if has_tokenizer(folder):
        tok = Tokenizer.from_hf(folder)
        if tok.vocab_size > model.config.vocab_size:
            raise DataError(f"{folder}: the tokenizer has {tok.vocab_size:,} ids, more than "
                            f"the model's vocab_size {model.config.vocab_size:,}")
        extra[TOKENIZER_FILE] = tok.model_text().encode("utf-8")
    save_checkpoint(out, model, kind="gpt", model_config=model.config.to_dict(),
                    state={"imported_from": str(folder)}, extra_files=extra)
    return ImportReport(out, model.config, model.num_params(embeddings=True), bool(extra))
