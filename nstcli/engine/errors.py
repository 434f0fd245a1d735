"""One exception family for everything a user can get wrong.

Front ends catch `NstError`, print `str(error)` on one line and exit with `exit_code`;
anything else is a bug and keeps its traceback.
"""


class NstError(Exception):
    """Base of all user-facing errors; the message is meant to be shown as is."""

    exit_code = 2


class InputError(NstError):
    """An input file or option cannot be used (missing, corrupt, too large, bad value)."""


class OutputError(NstError):
    """The output cannot be written where the user asked."""


class WeightsError(NstError):
    """Model weights are missing, corrupt or do not fit the architecture."""


class ResourceError(NstError):
    """The job would not fit the machine (memory) or the requested device is absent."""


class DivergedError(NstError):
    """The optimisation's loss became NaN or infinite and rolling back did not help."""


class Cancelled(NstError):
    """The caller asked the running job to stop."""

    exit_code = 130
