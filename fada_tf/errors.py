"""User-facing errors: the CLI prints their message on one line and exits non-zero."""


class FadaError(Exception):
    """An error caused by the user's input (a file, a key, a value), not by a bug."""


class ConfigError(FadaError):
    """A configuration file or override is invalid; the message names the key."""
