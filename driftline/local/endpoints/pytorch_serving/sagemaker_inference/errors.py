"""The inference toolkit's errors with the toolkit's constructor: a serving program raises one to answer a request
with ``status_code``; the PyTorch serving image's handler sends ``message``, then the traceback, as the body."""

from __future__ import annotations


class BaseInferenceToolkitError(Exception):
    def __init__(self, status_code: int, message: str, phrase: str) -> None:
        self.status_code = status_code
        self.message = message
        self.phrase = phrase
        super().__init__(status_code, message, phrase)


class GenericInferenceToolkitError(BaseInferenceToolkitError):
    def __init__(self, status_code: int, message: str | None = None, phrase: str | None = None) -> None:
        message = message or "Invalid Request"
        super().__init__(status_code, message, phrase or message)
