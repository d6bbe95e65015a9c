"""Sphinx configuration of the nanonlp docs (build with ``make docs`` or ``docs/build.py``).

Pages: ``index.rst`` (the tutorial gallery), ``tutorials/`` (the notebooks, which
``docs/build.py`` stages here from ``notebooks/`` and MyST-NB executes), ``playground.rst``
(``nanonlp serve`` and a screenshot of each page), ``cli.rst`` (generated
from the command table) and ``api.rst`` (autodoc). The build and the built site are offline: no
intersphinx, no remote images, no CDN (MathJax is served from the build's ``_static/mathjax``,
copied from the ``sphinx-mathjax-offline`` package); references to other projects' objects
are not checked (see ``nitpick_ignore``).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "_ext"))

from nanonlp import __version__

project = "nanonlp"
author = "nanonlp developers"
copyright = "nanonlp developers, MIT licence"
version = release = __version__

extensions = [
    "myst_nb",  # notebooks (and MyST markdown) as pages, executed at build time
    "sphinx.ext.autodoc",
    "sphinx_design",  # the gallery's cards
    "nanonlp_docs",  # the gallery, CLI and API directives (docs/_ext/nanonlp_docs.py)
]
exclude_patterns = ["_build", "**/.ipynb_checkpoints", "tutorials/tutorials.json"]
html_theme = "alabaster"
# MathJax 3 (Apache-2.0) as shipped by the sphinx-mathjax-offline package (the docs extra): its
# static folder is added to ours, so pages load _static/mathjax/tex-chtml.js and fetch fonts and
# TeX extensions beside it. Not loaded as an extension: it does not declare itself parallel-safe
# (a warning under -j N), and copies its files only after a build without errors.
_mathjax_pkg = importlib.util.find_spec("sphinx-mathjax-offline")
if _mathjax_pkg is None or not _mathjax_pkg.submodule_search_locations:
    raise ImportError("the docs need sphinx-mathjax-offline (pip install 'nanonlp[docs]')")
html_static_path = ["_static",
                    str(Path(_mathjax_pkg.submodule_search_locations[0]) / "static")]
mathjax_path = "mathjax/tex-chtml.js"
html_css_files = ["nanonlp.css"]
html_title = f"nanonlp {version}"
html_theme_options = {"description": "Deep learning for NLP, built from scratch",
                      "fixed_sidebar": True, "page_width": "1100px"}

# --- notebooks: executed by the build, through a cache kept beside the build output
_out = Path(os.environ.get("NANONLP_DOCS_OUT", Path(__file__).parent / "_build"))
_fast = os.environ.get("NANONLP_FAST", "") not in ("", "0")
nb_execution_mode = os.environ.get("NANONLP_NB_EXECUTION", "cache")  # "off" skips running them
# fast and full-size outputs differ for the same code cells: one cache each
nb_execution_cache_path = str(_out / ("jupyter_cache_fast" if _fast else "jupyter_cache"))
nb_execution_timeout = -1  # full size trains for minutes per cell; fast mode is bounded by CI
nb_execution_in_temp = True  # files a notebook writes land in a temporary folder
nb_execution_show_tb = True  # a failing cell's traceback goes into the build log
nb_execution_raise_on_error = False  # a failure is a warning (-W fails the build) so that the
# other notebooks still run and every failure is reported in one build
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath"]

# --- API reference
autodoc_member_order = "bysource"
# packages re-export their modules' names in __all__: document each object once, where it lives
autodoc_default_options = {"members": True, "undoc-members": True, "ignore-module-all": True}
autodoc_typehints = "signature"
autodoc_mock_imports: list[str] = []

# --- cross-references: ours must all resolve (-n); other projects' cannot without the network
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(torch|np|numpy|numba|spacy|thinc|gensim|matplotlib|argparse|collections"
               r"|typing|os|pathlib|dataclasses|regex|re|io|json|random|threading|queue"
               r"|multiprocessing|tiktoken|tokenizers|transformers|safetensors|sacrebleu"
               r"|seqeval|datetime|enum|abc|types|itertools|contextlib|tempfile|nn|F"
               r"|starlette|uvicorn|anyio)\b.*"),
    (r"py:.*", r"(Path|PathLike|Callable|Iterable|Iterator|Sequence|Mapping|Collection|Any"
               r"|Literal|Generator|ndarray|Tensor|Module|Namespace|ArgumentParser|Counter"
               r"|Random|Doc|Language|Vocab|KeyedVectors|TextIO|BinaryIO|IO|Self|Protocol"
               r"|_SubParsersAction|NoneType|ellipsis|optional|Ellipsis)"),
    (r"py:.*", r"_regex\..*|.*\[.*"),  # regex's C type; generic aliases autodoc splits at commas
    (r"py:class", r"nanonlp\.configs\.C"),  # ModelConfig.from_dict's TypeVar (the subclass)
]
