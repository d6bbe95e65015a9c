"""The exceptions nanonlp raises for problems the user can fix.

Every user-facing error is a :class:`NanonlpError`: its message is one line that names the
file, line or value at fault, and the CLI prints it without a traceback. Anything else that
escapes is a bug in nanonlp and keeps its traceback.
"""


class NanonlpError(Exception):
    """A problem with the user's input, data or configuration (not a bug in nanonlp)."""


class ConfigError(NanonlpError, ValueError):
    """A configuration value is out of range or inconsistent; the message names it."""


class DataError(NanonlpError, ValueError):
    """A data file is missing, malformed or undecodable; the message names file and line."""


class DownloadError(NanonlpError):
    """A download failed or did not match its checksum; nothing was left behind."""


class SpecialTokenError(DataError):
    """Text holds a special token the caller did not allow (tiktoken's default refusal).

    The token and its character offset are attributes, so each caller can say how *it* allows
    one (a Python argument, a CLI flag) without parsing the message.
    """

    def __init__(self, token: str, position: int, where: str = ""):
        self.token, self.position, self.where = token, position, where
        super().__init__(f"{where}text contains special token {token!r} at character "
                         f"{position}; pass allowed_special={{{token!r}}} to encode it as a "
                         "special token, or disallowed_special=() to encode it as ordinary text")

    def __reduce__(self):  # worker processes send it back pickled: rebuild from the fields
        return type(self), (self.token, self.position, self.where)
