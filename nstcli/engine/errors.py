"""One exception family for everything a user can get wrong.

Front ends catch `NstError`, print `str(error)` on one line and exit with `exit_code`;
anything else is a bug and keeps its traceback. The message is English; an error a
bot user can meet also carries a `code` and the `details` it names, so a front end
can word the reason in its user's language (the bot does, in `nstcli.bot.texts`).
"""

from __future__ import annotations


class NstError(Exception):
    """Base of all user-facing errors; the message is meant to be shown as is."""

    exit_code = 2
    #: What went wrong, for front ends that say it in their own words (None: only the text).
    code: str | None = None

    def __init__(self, message: str = "", *, code: str | None = None, **details: object) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        #: The values the message names (sizes, limits...), for a reworded message.
        self.details: dict[str, object] = details

    def __reduce__(self):  # type: ignore[no-untyped-def]
        # keep code and details across pickling (e.g. from a worker process)
        return (_rebuild, (type(self), str(self), self.code, self.details))


def _rebuild(kind: type[NstError], message: str, code: str | None, details: dict) -> NstError:
    return kind(message, code=code, **details)


class InputError(NstError):
    """An input file or option cannot be used (missing, corrupt, too large, bad value)."""


class OutputError(NstError):
    """The output cannot be written where the user asked."""


class WeightsError(NstError):
    """Model weights are missing, corrupt or do not fit the architecture."""

    code = "weights"


class ResourceError(NstError):
    """The job would not fit the machine (memory) or the requested device is absent."""


class DivergedError(NstError):
    """The optimisation's loss became NaN or infinite and rolling back did not help."""

    code = "diverged"


class Cancelled(NstError):
    """The caller asked the running job to stop."""

    exit_code = 130
    code = "cancelled"
