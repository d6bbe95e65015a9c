"""Checkpoints: a folder of open formats that rebuilds the model and resumes training exactly.

::

    ckpt/
      config.json            format, model kind, model config, training config, step, metrics
      model.safetensors      weights (a tied weight stored once; config.json names its aliases)
      optimizer.safetensors  AdamW moments, Muon momenta, step counts (settings in config.json)
      rng.safetensors        torch CPU / CUDA RNG states and the batch sampler's generator

The whole folder is written into a temporary sibling (``.last.tmp-XXXX``) and swapped in
(:func:`nanonlp.fileio.atomic_dir`), so overwriting ``last/`` replaces every file or none: a
save that fails part-way leaves the previous checkpoint intact, and no reader sees new
weights beside an old optimizer or config. A process killed between the swap's two renames
leaves no ``last/`` but two complete hidden copies; the readers here put the newer back
(:func:`nanonlp.fileio.recover_dir`) and the next save removes the rest. Loading reads
safetensors and JSON only: nothing is unpickled, so a checkpoint from a stranger cannot run
code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file as st_load_file
from safetensors.torch import save_file as st_save_file

from nanonlp.errors import DataError
from nanonlp.fileio import atomic_dir, atomic_write, recover_dir, remove_stale, remove_stale_temps

FORMAT = "nanonlp-checkpoint"
FORMAT_VERSION = 1


def _present(path: str | os.PathLike) -> Path:
    """``path`` as a Path, first put back from its hidden copies if a killed save lost it."""
    path = Path(path)
    if not path.exists():
        try:
            recover_dir(path)
        except OSError as e:  # e.g. a read-only folder: report the folder as missing
            raise DataError(f"{path}: missing, and its hidden copy could not be renamed "
                            f"back ({e.strerror})") from None
    return path


def split_aliases(state: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor],
                                                             dict[str, str]]:
    """Drop tensors that share storage with an earlier one; return them as ``alias -> source``.

    safetensors refuses shared tensors (weight tying); storing the tensor once and naming the
    alias is exact and keeps the file loadable by anyone.
    """
    kept: dict[str, torch.Tensor] = {}
    seen: dict[tuple[int, int, tuple[int, ...]], str] = {}
    aliases: dict[str, str] = {}
    for name, t in state.items():
        key = (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape))
        if key in seen:
            aliases[name] = seen[key]
        else:
            seen[key] = name
            kept[name] = t.detach().contiguous().cpu()
    return kept, aliases


def write_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    """Write a safetensors file atomically, straight from the tensors: ``save_file`` streams
    them to disk, where ``save`` would first build the whole file in memory (a second copy
    of every weight: +0.5 GB at GPT-2 124M's size)."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        st_save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_tensors(path: Path) -> dict[str, torch.Tensor]:
    """Read a safetensors file (memory-mapped, not read whole first); a missing or damaged
    file is a :class:`DataError`."""
    if not path.is_file():
        raise DataError(f"{path}: missing from the checkpoint")
    try:
        return st_load_file(str(path))
    except (SafetensorError, ValueError, RuntimeError, OSError) as e:
        raise DataError(f"{path}: corrupt safetensors file ({str(e).splitlines()[0][:80]})") \
            from None


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor],
                                                                   list[dict]]:
    """Flatten ``optimizer.state_dict()`` into tensors (``state.<param>.<name>``) and the
    JSON-able param groups."""
    sd = optimizer.state_dict()
    tensors = {}
    for pid, st in sd["state"].items():
        for name, value in st.items():
            t = value if torch.is_tensor(value) else torch.tensor(value)
            tensors[f"state.{pid}.{name}"] = t
    return tensors, sd["param_groups"]


def optimizer_state(tensors: dict[str, torch.Tensor], groups: list[dict]) -> dict:
    """Inverse of :func:`optimizer_tensors`: a dict ``optimizer.load_state_dict`` takes."""
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, t in tensors.items():
        _, pid, name = key.split(".", 2)
        state.setdefault(int(pid), {})[name] = t
    return {"state": state, "param_groups": groups}


def rng_tensors(generator: torch.Generator | None) -> dict[str, torch.Tensor]:
    out = {"torch_cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        out["torch_cuda"] = torch.cuda.get_rng_state()
    if generator is not None:
        out["sampler"] = generator.get_state()
    return out


def restore_rng(tensors: dict[str, torch.Tensor], generator: torch.Generator | None) -> None:
    torch.set_rng_state(tensors["torch_cpu"])
    if "torch_cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["torch_cuda"])
    if generator is not None and "sampler" in tensors:
        generator.set_state(tensors["sampler"])


def save_checkpoint(path: str | os.PathLike, model: torch.nn.Module, *, kind: str,
                    model_config: dict[str, Any], train_config: dict[str, Any] | None = None,
                    optimizer: torch.optim.Optimizer | None = None,
                    generator: torch.Generator | None = None,
                    state: dict[str, Any] | None = None,
                    extra_files: dict[str, bytes] | None = None) -> Path:
    """Write a checkpoint folder; ``state`` holds JSON scalars (step, best loss, ...).

    An existing folder at ``path`` is replaced whole (see :func:`nanonlp.fileio.atomic_dir`).
    """
    path = Path(path)
    with atomic_dir(path) as tmp:
        weights, aliases = split_aliases(model.state_dict())
        write_tensors(tmp / "model.safetensors", weights)
        meta: dict[str, Any] = {"format": FORMAT, "version": FORMAT_VERSION, "kind": kind,
                                "model_config": model_config, "aliases": aliases,
                                "train_config": train_config, "state": state or {}}
        if optimizer is not None:
            tensors, groups = optimizer_tensors(optimizer)
            write_tensors(tmp / "optimizer.safetensors", tensors)
            meta["optimizer_groups"] = groups
            write_tensors(tmp / "rng.safetensors", rng_tensors(generator))
        for name, data in (extra_files or {}).items():
            with atomic_write(tmp / name, "wb") as f:
                f.write(data)
        with atomic_write(tmp / "config.json") as f:
            json.dump(meta, f, indent=1)
    return path


def clean_run_folder(out: str | os.PathLike, names: tuple[str, ...] = ("best", "last")
                     ) -> list[str]:
    """Tidy a run folder as a run starts: put back a checkpoint folder a killed swap lost,
    and delete the hidden leftovers of killed writes (half-written or retired copies of the
    checkpoints ``names``, temporaries of files such as ``loss.png``). Returns what was
    deleted. Call it on the one process that writes the folder."""
    out = Path(out)
    if not out.is_dir():
        return []
    gone = remove_stale_temps(out)
    for name in names:
        before = set(os.listdir(out))
        recover_dir(out / name)
        remove_stale(out / name)
        gone += sorted(before - set(os.listdir(out)) - {name})
    return gone


def read_meta(path: str | os.PathLike, kind: str | None = None) -> dict[str, Any]:
    """Read and check a checkpoint's ``config.json`` (format, version and model kind).

    A folder that a killed save left missing is first put back from its hidden copy.
    """
    path = _present(path)
    cfg = path / "config.json"
    if not path.is_dir():
        raise DataError(f"{path}: no such checkpoint folder")
    try:
        meta = json.loads(cfg.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: not a checkpoint (no config.json)") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise DataError(f"{cfg}: corrupt checkpoint config (not JSON)") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise DataError(f"{cfg}: not a nanonlp checkpoint (format {meta.get('format')!r})"
                        if isinstance(meta, dict) else f"{cfg}: not a nanonlp checkpoint")
    # a hand-edited or foreign config.json: wrong types are errors here, not tracebacks later
    for key, types, want in (("version", int, "an integer"), ("kind", str, "a string"),
                             ("model_config", dict, "an object"), ("aliases", dict, "an object"),
                             ("state", dict, "an object"),
                             ("train_config", (dict, type(None)), "an object or null"),
                             ("optimizer_groups", list, "a list")):
        value = meta.get(key)
        if (key in meta or key == "model_config") and \
                (not isinstance(value, types) or isinstance(value, bool)):
            raise DataError(f"{cfg}: {key!r} must be {want}, got {repr(value)[:60]}")
    if any(not isinstance(v, str) for v in meta.get("aliases", {}).values()):
        raise DataError(f"{cfg}: 'aliases' must map tensor names to tensor names")
    if meta.get("version", 0) > FORMAT_VERSION:
        raise DataError(f"{cfg}: checkpoint version {meta['version']} is newer than this "
                        f"nanonlp reads ({FORMAT_VERSION})")
    if kind is not None and meta.get("kind") != kind:
        raise DataError(f"{path}: a {meta.get('kind')!r} checkpoint, not a {kind!r} one")
    return meta


def load_weights(path: str | os.PathLike, model: torch.nn.Module, meta: dict[str, Any]) -> None:
    """Load ``model.safetensors`` into ``model``; shape or name mismatches are errors."""
    path = _present(path)
    weights = read_tensors(path / "model.safetensors")
    for alias, source in meta.get("aliases", {}).items():
        if source in weights:
            weights[alias] = weights[source]
    own = model.state_dict()
    missing = sorted(set(own) - set(weights))
    unexpected = sorted(set(weights) - set(own))
    wrong = [k for k in own if k in weights and weights[k].shape != own[k].shape]
    if missing or unexpected or wrong:
        detail = (f"missing {missing[:3]}" if missing else f"unexpected {unexpected[:3]}"
                  if unexpected else
                  f"{wrong[0]} has shape {tuple(weights[wrong[0]].shape)}, the model wants "
                  f"{tuple(own[wrong[0]].shape)}")
        raise DataError(f"{path}: the weights do not fit this model ({detail})")
    # a NaN weight makes every output NaN, and sampling then fails deep inside torch
    bad = next((k for k, t in weights.items()
                if t.is_floating_point() and not bool(torch.isfinite(t).all())), None)
    if bad is not None:
        raise DataError(f"{path / 'model.safetensors'}: tensor {bad!r} holds NaN or infinite "
                        "values; the checkpoint is damaged (or saved after training diverged)")
    model.load_state_dict(weights)


def load_training_state(path: str | os.PathLike, meta: dict[str, Any],
                        optimizer: torch.optim.Optimizer,
                        generator: torch.Generator | None) -> None:
    """Restore the optimizer moments and the RNG states saved beside the weights."""
    path = _present(path)
    if "optimizer_groups" not in meta:
        raise DataError(f"{path}: holds weights only (no optimizer state) and cannot be resumed")
    tensors = read_tensors(path / "optimizer.safetensors")
    # how the step runs (fused kernel or not) belongs to this run's device, not the saved one's
    how = [{k: g[k] for k in ("fused", "foreach", "ns_dtype") if k in g}
           for g in optimizer.param_groups]
    groups = meta["optimizer_groups"]
    if isinstance(groups, list) and len(groups) == len(how):  # else load_state_dict refuses
        groups = [{**g, **h} for g, h in zip(groups, how)]
    try:
        optimizer.load_state_dict(optimizer_state(tensors, groups))
    except (ValueError, KeyError, RuntimeError) as e:
        raise DataError(f"{path}: optimizer state does not fit this model ({e})") from None
    restore_rng(read_tensors(path / "rng.safetensors"), generator)
