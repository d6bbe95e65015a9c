"""sentence-transformers folders: the modules around the BERT, read by ``bert import`` and
written by ``bert export``.

A sentence-transformers model (Reimers & Gurevych 2019) is a pipeline that ``modules.json``
lists in order. nanonlp reads the pipeline of nearly every BERT sentence encoder:

1. ``Transformer``: the BERT folder (``path`` "" is the folder itself), whose
   ``sentence_bert_config.json`` gives ``max_seq_length`` (inputs are cut to that many tokens,
   [CLS] and [SEP] included) and ``do_lower_case`` (the text is lower-cased before the
   tokenizer). Folders written by sentence-transformers 5+ leave ``max_seq_length`` out and
   keep it as ``tokenizer_config.json``'s ``model_max_length``; with neither, the position
   table is the limit (the library's own rule);
2. ``Pooling`` (``1_Pooling/config.json``): one of ``cls``, ``mean``, ``max``,
   ``mean_sqrt_len_tokens``, as the ``pooling_mode_*`` flags of sentence-transformers 2-4 or
   the ``pooling_mode`` string of 5+;
3. optionally ``Normalize``: rows scaled to length 1.

These settings become the checkpoint's ``embedding.json`` (:func:`embedding_record`), which
``bert embed`` and ``bert search`` follow, and :func:`write_modules` writes them back in the
2.x layout (which every sentence-transformers release since 2.0 loads).

Left out, each refused by name: ``Dense`` and ``LayerNorm`` modules, weighted-mean and
last-token pooling, several pooling modes concatenated, prompts.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nanonlp.errors import DataError
from nanonlp.fileio import read_json

MODULES_FILE = "modules.json"
NAMED = f"missing (named by {MODULES_FILE})"  # a file modules.json names is not there
MODULE_CONFIG = "sentence_bert_config.json"  # in the Transformer module's folder
POOLING_DIR = "1_Pooling"
#: sentence-transformers' pooling mode -> ours (nanonlp.bert.model.POOLING)
MODES = {"cls": "cls", "mean": "mean", "max": "max", "mean_sqrt_len_tokens": "mean_sqrt_len"}
#: the 2.x config flags of each mode
FLAGS = {"pooling_mode_cls_token": "cls", "pooling_mode_mean_tokens": "mean",
         "pooling_mode_max_tokens": "max", "pooling_mode_mean_sqrt_len_tokens":
         "mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens": "weightedmean",
         "pooling_mode_lasttoken": "lasttoken"}
KINDS = ("Transformer", "Pooling", "Normalize")  # the pipeline we read, in this order
HUGE = 10 ** 9  # transformers' "no limit" model_max_length is 1e30


@dataclass
class SentenceFolder:
    """What a sentence-transformers folder says around its BERT."""
    transformer: Path  # the BERT folder (config.json, weights, tokenizer)
    pooling: str  # one of nanonlp.bert.model.POOLING
    normalize: bool  # a Normalize module ends the pipeline
    max_seq_length: int | None  # the cut, [CLS] and [SEP] included; None: the position table
    do_lower_case: bool  # lower-case the text before the tokenizer
    dim: int | None  # the pooling config's width, checked against the model's
    pooling_file: Path  # the pooling config, for error messages
    limit_from: Path  # the file that set max_seq_length, for error messages


def module_kind(type_: str) -> str | None:
    """Which of ``KINDS`` a ``modules.json`` type names (any release's module path), or
    None for a module nanonlp does not read.

    >>> module_kind("sentence_transformers.models.Pooling")
    'Pooling'
    >>> module_kind("sentence_transformers.base.modules.transformer.Transformer")
    'Transformer'
    >>> module_kind("sentence_transformers.models.Dense") is None
    True
    """
    if not isinstance(type_, str) or not type_.startswith("sentence_transformers."):
        return None
    name = type_.rsplit(".", 1)[-1]
    return name if name in KINDS else None


def pooling_mode(config: dict[str, Any], where: str = "1_Pooling/config.json") -> str:
    """Our pooling name for a ``Pooling`` config, either layout; exactly one mode must be on.

    >>> pooling_mode({"pooling_mode_mean_tokens": True, "pooling_mode_cls_token": False})
    'mean'
    >>> pooling_mode({"pooling_mode": "mean_sqrt_len_tokens"})
    'mean_sqrt_len'
    """
    if "pooling_mode" in config:
        on = config["pooling_mode"]
        on = [on] if isinstance(on, str) else on
    else:
        on = [mode for flag, mode in FLAGS.items() if config.get(flag)]
    if not isinstance(on, list) or len(on) != 1:
        raise DataError(f"{where}: pooling modes {on} on; nanonlp needs exactly one of "
                        f"{', '.join(MODES)}")
    if on[0] not in MODES:
        raise DataError(f"{where}: pooling mode {on[0]!r} is not supported; nanonlp reads "
                        f"{', '.join(MODES)}")
    return MODES[on[0]]


def _positive_int(value: Any, what: str, where: Path) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise DataError(f"{where}: {what} {value!r} is not a positive whole number")
    return value


def read_modules(folder: str | os.PathLike) -> SentenceFolder | None:
    """The pipeline of a sentence-transformers ``folder``; None for a plain transformers folder
    (no ``modules.json``). An unsupported module is a :class:`DataError` naming it."""
    folder = Path(folder)
    path = folder / MODULES_FILE
    if not path.is_file():
        return None
    modules = read_json(path, NAMED)
    if not isinstance(modules, list) or not all(isinstance(m, dict) for m in modules):
        raise DataError(f"{path}: not a list of modules")
    kinds = [module_kind(m.get("type")) for m in modules]
    for m, kind in zip(modules, kinds):
        if kind is None:
            raise DataError(f"{path}: module {m.get('type')!r} is not supported; nanonlp "
                            "reads a Transformer (BERT), a Pooling and an optional Normalize")
    if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        raise DataError(f"{path}: modules {kinds}; nanonlp reads Transformer, Pooling "
                        "[, Normalize] in that order")
    where = {kind: m.get("path") or "" for kind, m in zip(kinds, modules)}
    for rel in where.values():
        if not isinstance(rel, str) or Path(rel).is_absolute() or ".." in Path(rel).parts:
            raise DataError(f"{path}: module path {rel!r} is not a folder inside {folder}")
    bert = folder / where["Transformer"]
    pool_cfg = folder / where["Pooling"] / "config.json"
    pool = read_json(pool_cfg, NAMED)
    if not isinstance(pool, dict):
        raise DataError(f"{pool_cfg}: not a JSON object")
    dim = pool.get("word_embedding_dimension", pool.get("embedding_dimension"))
    module_cfg = bert / MODULE_CONFIG
    st = read_json(module_cfg, NAMED) if module_cfg.is_file() else {}
    if not isinstance(st, dict):
        raise DataError(f"{module_cfg}: not a JSON object")
    limit, limit_from = st.get("max_seq_length"), module_cfg
    if limit is None and (bert / "tokenizer_config.json").is_file():
        tc = read_json(bert / "tokenizer_config.json", NAMED)
        limit_from = bert / "tokenizer_config.json"
        limit = tc.get("model_max_length") if isinstance(tc, dict) else None
        limit = None if isinstance(limit, (int, float)) and limit >= HUGE else limit
    return SentenceFolder(
        transformer=bert, pooling=pooling_mode(pool, str(pool_cfg)),
        normalize="Normalize" in kinds,
        max_seq_length=None if limit is None else _positive_int(limit, "max_seq_length",
                                                                limit_from),
        do_lower_case=bool(st.get("do_lower_case", False)),
        dim=None if dim is None else _positive_int(dim, "embedding dimension", pool_cfg),
        pooling_file=pool_cfg, limit_from=limit_from)


def embedding_record(sf: SentenceFolder, config, mlm_head: bool) -> dict[str, Any]:
    """The checkpoint's ``embedding.json`` for a folder's pipeline, checked against the
    model's :class:`~nanonlp.bert.config.BertConfig` (its width and position table)."""
    limit = sf.max_seq_length
    if limit is not None and limit > config.block_size:
        if sf.limit_from.name == MODULE_CONFIG:
            raise DataError(f"{sf.limit_from}: max_seq_length {limit} is above the position "
                            f"table ({config.block_size}, config.json's "
                            "max_position_embeddings)")
        limit = config.block_size  # a tokenizer's model_max_length: capped, as the library does
    if sf.dim is not None and sf.dim != config.n_embd:
        raise DataError(f"{sf.pooling_file}: embedding dimension {sf.dim} "
                        f"is not the model's width {config.n_embd}")
    return {"pooling": sf.pooling, "normalize": sf.normalize,
            "max_seq_length": limit or config.block_size, "do_lower_case": sf.do_lower_case,
            "source": "sentence-transformers", "mlm_head": mlm_head}


def write_modules(out: str | os.PathLike, embedding: dict[str, Any], width: int,
                  lowercase: bool = False) -> None:
    """Write the sentence-transformers files of a checkpoint's ``embedding.json`` into the
    exported BERT folder ``out``: ``modules.json``, ``sentence_bert_config.json`` and
    ``1_Pooling/config.json``, in the 2.x layout."""
    out = Path(out)
    ours = {v: k for k, v in MODES.items()}[embedding.get("pooling", "mean")]
    modules = [{"idx": 0, "name": "0", "path": "",
                "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": POOLING_DIR,
                "type": "sentence_transformers.models.Pooling"}]
    if embedding.get("normalize"):  # no files: the Normalize module has no parameters
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize",
                        "type": "sentence_transformers.models.Normalize"})
    pool = {"word_embedding_dimension": width,
            **{flag: mode == ours for flag, mode in FLAGS.items()}}
    files = {MODULES_FILE: modules, f"{POOLING_DIR}/config.json": pool,
             MODULE_CONFIG: {"max_seq_length": embedding.get("max_seq_length"),
                             "do_lower_case": lowercase}}
    for name, body in files.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(json.dumps(body, indent=2), encoding="utf-8")
