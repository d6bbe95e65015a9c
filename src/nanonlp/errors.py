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
