"""A read never fails because a write ran beside it.

Local mode's server answers requests on many threads at once (the console, the CLI, functions and jobs all call
it), and the emulator's backends are not thread-safe: a List or Describe that iterates a service's resources while
another request adds one fails with ``RuntimeError: dictionary changed size during iteration``, a 500 that AWS
never answers (SageMaker's ListModels and CloudWatch's DescribeAlarms did so under load). A read changes nothing,
so such a read is answered again; a write is never repeated.
"""

from __future__ import annotations

from typing import Any

from moto.core.responses import BaseResponse

from driftline.local import seams

SEAM = "consistent-reads"
READ_PREFIXES = ("Describe", "List", "Get", "Filter", "Search")
"""The actions that only read, by AWS's naming."""
READ_ATTEMPTS = 10


def install() -> None:
    if seams.claim(SEAM):
        seams.replace(BaseResponse, "_dispatch", _dispatch_reading_again)


def uninstall() -> None:
    seams.undo(SEAM, [(BaseResponse, "_dispatch")])


def _dispatch_reading_again(self: BaseResponse, request: Any, full_url: str | None = None, headers: Any = None) -> Any:
    self.setup_class(request, full_url, headers)
    attempt = 1
    while True:
        try:
            return self.call_action()
        except RuntimeError as error:
            if attempt >= READ_ATTEMPTS or not changed_while_read(error) or not is_read(self):
                raise
            attempt += 1


def changed_while_read(error: RuntimeError) -> bool:
    return "changed size during iteration" in str(error)


def is_read(response: BaseResponse) -> bool:
    try:
        action = str(response._get_action() or "")
    except Exception:  # an action the emulator cannot name is not known to be a read
        return False
    return action.startswith(READ_PREFIXES)
