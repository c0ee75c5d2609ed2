"""Caption model for the caption translation workflow.

Read WebVTT and SRT files into an immutable model (`parse_captions`), write them back exactly
(`render_captions`), turn cues into HTML documents for Amazon Translate
(`to_html_documents`), match translated documents back to cues by id (`align_documents`) and
run a whole translation through any `Translator` (`translate_captions`,
`rebuild_from_documents`) with the guarantee that the output keeps the source's cues.
"""

from .errors import (
    AlignmentError,
    BinaryContentError,
    CaptionInputError,
    CueTooLargeError,
    EmptyFileError,
    EndBeforeStartError,
    MalformedTimestampError,
    NoCuesError,
    NotUtf8Error,
    UnknownFormatError,
)
from .formats import as_format, declared_format, parse_captions, render_captions
from .markup import (
    cue_text_to_html,
    has_translatable_text,
    has_visible_text,
    html_to_cue_text,
    plain_text,
    tidy_translated_text,
)
from .model import (
    Block,
    CaptionFile,
    CaptionFormat,
    Cue,
    format_timestamp,
    same_structure,
    text_problem,
    with_texts,
)
from .segments import (
    Alignment,
    TranslatedElements,
    align_documents,
    cue_element,
    parse_translated_html,
    to_html_documents,
    translatable_indices,
    wrap_document,
)
from .translation import (
    DEFAULT_MAX_REQUEST_BYTES,
    TranslationOutcome,
    Translator,
    rebuild_from_documents,
    translate_captions,
)

__all__ = [
    "DEFAULT_MAX_REQUEST_BYTES",
    "Alignment",
    "AlignmentError",
    "BinaryContentError",
    "Block",
    "CaptionFile",
    "CaptionFormat",
    "CaptionInputError",
    "Cue",
    "CueTooLargeError",
    "EmptyFileError",
    "EndBeforeStartError",
    "MalformedTimestampError",
    "NoCuesError",
    "NotUtf8Error",
    "TranslatedElements",
    "TranslationOutcome",
    "Translator",
    "UnknownFormatError",
    "align_documents",
    "as_format",
    "cue_element",
    "cue_text_to_html",
    "declared_format",
    "format_timestamp",
    "has_translatable_text",
    "has_visible_text",
    "html_to_cue_text",
    "parse_captions",
    "parse_translated_html",
    "plain_text",
    "rebuild_from_documents",
    "render_captions",
    "same_structure",
    "text_problem",
    "tidy_translated_text",
    "to_html_documents",
    "translatable_indices",
    "translate_captions",
    "with_texts",
    "wrap_document",
]
