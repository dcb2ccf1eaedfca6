"""Errors a user can cause (bad params, bad data files).

Stage scripts catch `PosencError` and print its message as one line, so every
message here must name the offending key or file.
"""


class PosencError(Exception):
    """Base class for every error caused by user input."""


class ConfigError(PosencError):
    """A malformed, unknown or impossible value in params.yaml."""


class DataError(PosencError):
    """A missing, corrupt or inconsistent data or model file."""
