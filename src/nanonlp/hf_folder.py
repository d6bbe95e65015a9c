"""What ``gpt import`` and ``bert import`` share: reading a transformers model folder.

``config.json`` as a dict, the weight files (one ``model.safetensors``, the shards its
``model.safetensors.index.json`` names, or a ``pytorch_model.bin``) one tensor at a time, and
the check that the output folder may be written. Tensors stream: ``safetensors.safe_open`` maps
the file and each ``get_tensor`` reads one, so an importer that copies each into its model and
lets it go holds one full copy of the weights (its own). A ``pytorch_model.bin`` is read with
``torch.load(weights_only=True)`` only, which rebuilds tensors and nothing else: a pickle that
asks to run code is refused, never run. Every weight is checked as it is read: floating point
and finite, else an error naming it (a NaN would otherwise be written into the checkpoint,
and an integer tensor silently cast).
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from nanonlp.errors import DataError
from nanonlp.fileio import read_json as read_any_json


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``; a missing or malformed file is a :class:`DataError`."""
    d = read_any_json(path, "missing (expected a transformers model folder)")
    if not isinstance(d, dict):
        raise DataError(f"{path}: not a JSON object")
    return d


def check_model_type(d: dict[str, Any], where: str, model_type: str, name: str,
                     architectures: tuple[str, ...], required: dict[str, Any],
                     part: str) -> None:
    """Refuse a ``config.json`` of another model family, of an architecture ``PART import``
    does not read, or with a setting our model cannot hold (``required``: key -> the one
    value it can), each by name."""
    if d.get("model_type") != model_type:
        raise DataError(f"{where}: model_type {d.get('model_type')!r} is not {name}; `{part} "
                        f"import` reads {' or '.join(architectures)} folders")
    arch = d.get("architectures") or []
    if not isinstance(arch, list) or any(a not in architectures for a in arch):
        raise DataError(f"{where}: architectures {arch} are not "
                        f"{' or '.join(architectures)}")
    for key, want in required.items():
        if d.get(key, want) != want:
            raise DataError(f"{where}: {key} is {d[key]!r}; nanonlp's {part.upper()} needs "
                            f"{want!r}")


def weight_files(folder: Path) -> list[Path]:
    """The weight files of an HF folder: one ``model.safetensors``, the shards its index names,
    or a ``pytorch_model.bin``."""
    index = folder / "model.safetensors.index.json"
    if (folder / "model.safetensors").is_file():
        return [folder / "model.safetensors"]
    if index.is_file():
        wm = read_json(index).get("weight_map")
        if not isinstance(wm, dict) or not wm:
            raise DataError(f"{index}: no 'weight_map'")
        files = [folder / f for f in dict.fromkeys(wm.values())]
        for f in files:
            if not f.is_file():
                raise DataError(f"{f}: missing (named by {index.name})")
        return files
    if (folder / "pytorch_model.bin").is_file():
        return [folder / "pytorch_model.bin"]
    raise DataError(f"{folder}: no model.safetensors (or pytorch_model.bin) to import")


#: what transformers saves beside the weights that is not a weight: integer position and token
#: type ids, old GPT-2 files' causal masks. The importers skip them, so they are not checked.
BUFFERS = ("position_ids", "token_type_ids", ".attn.bias", ".attn.masked_bias")


def check_weight(path: Path, name: str, t: torch.Tensor) -> torch.Tensor:
    """``t`` if it is a finite floating-point tensor (or one of the :data:`BUFFERS`), else a
    :class:`DataError` naming the file and the tensor.

    >>> check_weight(Path("w.bin"), "wte.weight", torch.tensor([1.0, float("nan")]))
    Traceback (most recent call last):
    nanonlp.errors.DataError: w.bin: wte.weight holds nan (1 of 2 values)
    """
    if name.endswith(BUFFERS):
        return t
    if not t.is_floating_point():
        raise DataError(f"{path}: {name} holds {t.dtype}, not floating point")
    # in pieces of 1M values: isfinite makes temporaries of its input's size (GPT-2's 154 MB
    # token embedding, checked whole, added 285 MB to an import's peak memory; now 15 MB)
    pieces = t.reshape(-1).split(1 << 20)
    bad = sum(int((~torch.isfinite(p)).sum()) for p in pieces)
    if bad:
        what = "nan" if any(bool(torch.isnan(p).any()) for p in pieces) else "inf"
        raise DataError(f"{path}: {name} holds {what} ({bad:,} of {t.numel():,} values)")
    return t


def iter_tensors(path: Path) -> Iterator[tuple[str, torch.Tensor]]:
    """``(name, tensor)`` from one weight file, one tensor in memory at a time, each checked
    by :func:`check_weight`."""
    if path.suffix == ".bin":
        for name, tensor in _torch_tensors(path):
            yield name, check_weight(path, name, tensor)
        return
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(path, framework="pt") as f:
            names = list(f.keys())
        for name in names:
            # A fresh mapping per tensor: every page read through a mapping stays in the
            # process's resident memory until the mapping closes, so one mapping for the
            # whole file would hold a second copy of the weights by the end (GPT-2 124M:
            # peak RSS 1.20 GB this way against 0.87 GB, the model plus its largest tensor).
            with safe_open(path, framework="pt") as f:
                tensor = f.get_tensor(name)
            yield name, check_weight(path, name, tensor)
    except (SafetensorError, OSError) as e:
        raise DataError(f"{path}: not a readable safetensors file "
                        f"({str(e).splitlines()[0][:80]})") from None


def _torch_tensors(path: Path) -> Iterator[tuple[str, torch.Tensor]]:
    """A ``pytorch_model.bin`` read without running its pickle: ``weights_only=True`` rebuilds
    tensors, dicts and numbers and refuses anything else; ``mmap`` keeps the file on disk."""
    import pickle
    import re
    import warnings

    try:
        with warnings.catch_warnings():  # torch warns of a pickle protocol it may not read
            warnings.simplefilter("ignore")
            sd = torch.load(path, map_location="cpu", weights_only=True,
                            mmap=zipfile.is_zipfile(path))
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as e:
        m = re.search(r"WeightsUnpickler error: ([^.]*)", str(e))
        why = " ".join(m.group(1).split()) if m else str(e).strip().splitlines()[0][:80]
        raise DataError(f"{path}: refused: not a plain file of tensors ({why}); nanonlp reads "
                        "a .bin only with torch.load(weights_only=True)") from None
    if not isinstance(sd, dict) or not all(isinstance(k, str) and torch.is_tensor(v)
                                           for k, v in sd.items()):
        raise DataError(f"{path}: not a state dict (name -> tensor)")
    yield from sd.items()


def check_out(folder: Path, out: Path) -> None:
    """Refuse to write over the input folder, or over a folder that is not a checkpoint."""
    if out.exists() and not out.is_dir():
        raise DataError(f"{out}: exists and is not a folder")
    if out.exists() and folder.exists() and out.resolve() == folder.resolve():
        raise DataError(f"{out}: is the folder being imported; give another OUT")
    if out.is_dir() and any(out.iterdir()) and not (out / "config.json").is_file():
        raise DataError(f"{out}: exists and is not a nanonlp checkpoint; give a new folder")
    if (out / "config.json").is_file():
        from nanonlp.training.checkpoint import read_meta

        read_meta(out)  # a transformers folder or other files: refused with its reason
