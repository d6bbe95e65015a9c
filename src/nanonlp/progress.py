"""Progress bars: tqdm's notebook widget where ipywidgets can draw it, else its text bar.

``tqdm.auto`` picks the widget inside a Jupyter kernel and, when ipywidgets is missing, warns
("IProgress not found", with the path of the installed tqdm) before falling back to the text
bar. That warning would open every executed tutorial. Asking for the text bar directly when
ipywidgets is not installed gives the same bar without it; every bar in nanonlp comes from here.
"""

from __future__ import annotations

import functools
import importlib.util


@functools.cache
def _tqdm_class():
    if importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.auto import tqdm
    else:
        from tqdm.std import tqdm
    return tqdm


def tqdm(*args, **kwargs):
    """A ``tqdm`` progress bar (same arguments): the notebook widget in a kernel that has
    ipywidgets, the text bar everywhere else.

    >>> bar = tqdm(total=3, disable=True)
    >>> bar.update(3); bar.close()
    """
    return _tqdm_class()(*args, **kwargs)
