"""GPT-2's byte-level alphabet: every byte as a printable character, so that a BPE over bytes
can be written down as text (``vocab.json``, ``merges.txt``, HF's ``tokenizer.json``)."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible map from the 256 bytes to printable unicode characters.

    Printable Latin-1 bytes map to themselves; the other 68 (controls, space, ...) map to
    U+0100 upwards in byte order, so no token string contains whitespace or a control
    character.

    >>> m = bytes_to_unicode(); m[ord("a")], m[ord(" ")], m[ord("\\n")]
    ('a', 'Ġ', 'Ċ')
    """
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
            *range(ord("®"), ord("ÿ") + 1)]
    out = {b: chr(b) for b in keep}
    extra = 0
    for b in range(256):
        if b not in out:
            out[b] = chr(256 + extra)
            extra += 1
    return out
