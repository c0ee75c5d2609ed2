"""Errors raised by the caption model.

Every rejection of a caption file is an `InputError` subclass, so the workflow quarantines the
file with a reason a person can act on. `AlignmentError` is not an input problem: it means a
translation could not be matched back to its cues, and the caller decides whether to retry.
"""

from __future__ import annotations

from lambdas.shared.errors import InputError


class CaptionInputError(InputError):
    """A caption file that cannot be read or translated as it is."""

    code = "invalid-captions"


class EmptyFileError(CaptionInputError):
    """The file has no content, or only whitespace."""

    code = "empty-file"


class BinaryContentError(CaptionInputError):
    """The file holds binary data rather than text."""

    code = "binary-content"


class NotUtf8Error(CaptionInputError):
    """The file is not valid UTF-8."""

    code = "not-utf8"

    def __init__(self, reason: str, offset: int) -> None:
        super().__init__(reason)
        self.offset = offset


class UnknownFormatError(CaptionInputError):
    """The content is neither WebVTT nor SRT."""

    code = "unknown-format"


class NoCuesError(CaptionInputError):
    """The file is a caption file but holds no cue."""

    code = "no-cues"


class CaptionLineError(CaptionInputError):
    """A rejection that names the line of the file at fault."""

    def __init__(self, reason: str, line: int) -> None:
        super().__init__(reason)
        self.line = line


class MalformedTimestampError(CaptionLineError):
    """A cue timing line cannot be read."""

    code = "malformed-timestamp"


class EndBeforeStartError(CaptionLineError):
    """A cue ends before it starts."""

    code = "end-before-start"


class CueTooLargeError(CaptionInputError):
    """A single cue does not fit in one translation request."""

    code = "cue-too-large"

    def __init__(self, reason: str, cue_index: int, size: int) -> None:
        super().__init__(reason)
        self.cue_index = cue_index
        self.size = size


class AlignmentError(Exception):
    """A cue's translation could not be recovered, even on its own and as plain text."""

    def __init__(self, message: str, cue_index: int | None = None) -> None:
        super().__init__(message)
        self.cue_index = cue_index
