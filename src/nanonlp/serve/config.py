"""The server's one config: where it listens and the limits every request is held to."""

from __future__ import annotations

import math
from dataclasses import dataclass

from nanonlp.errors import ConfigError

LOOPBACK = ("127.0.0.1", "::1", "localhost")


@dataclass
class ServeConfig:
    host: str = "127.0.0.1"  # address to listen on; loopback: no other machine can connect
    port: int = 8765  # port to listen on (0: any free one)
    max_body_bytes: int = 64 * 1024  # a request body past this is refused (413)
    max_text_chars: int = 4000  # longest text a request may send (a page of prose)
    max_new_tokens: int = 512  # most tokens one generation may ask for
    max_top_k: int = 50  # most alternatives / neighbours / fills a request may ask for
    max_beam: int = 16  # widest beam a translation may ask for
    request_timeout_s: float = 30.0  # wall clock per request; a stream stops when it is spent
    max_streams: int = 32  # generation streams at once; one more is refused (503)
    torch_threads: int = 1  # torch threads per model call: concurrent requests run side by side
    open: bool = False  # start a web browser on the playground's address

    def __post_init__(self):
        if not self.host:
            raise ConfigError("host must not be empty (127.0.0.1 for this machine only)")
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port must be in 0..65535, got {self.port}")
        for name in ("max_body_bytes", "max_text_chars", "max_new_tokens", "max_top_k",
                     "max_beam", "max_streams", "torch_threads"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not (math.isfinite(self.request_timeout_s) and self.request_timeout_s > 0):
            raise ConfigError(f"request_timeout_s must be a number > 0, got "
                              f"{self.request_timeout_s}")

    @property
    def loopback(self) -> bool:
        """Whether only this machine can connect.

        >>> ServeConfig().loopback, ServeConfig(host="0.0.0.0").loopback
        (True, False)
        """
        return self.host in LOOPBACK or self.host.startswith("127.")

    def limits(self) -> dict[str, float]:
        """The limits as the health endpoint reports them (the pages read them too)."""
        return {k: getattr(self, k) for k in (
            "max_body_bytes", "max_text_chars", "max_new_tokens", "max_top_k", "max_beam",
            "request_timeout_s", "max_streams")}
