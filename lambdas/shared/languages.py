"""Language codes Amazon Translate supports (Translate Developer Guide, "Supported languages
and language codes"). Used to reject bad codes at synth time and at trigger time."""

from __future__ import annotations

from lambdas.shared.errors import ConfigurationError

_CODES = (
    "af sq am ar hy az bn bs bg ca zh zh-TW hr cs da fa-AF nl en et fa tl fi fr fr-CA ka de el "
    "gu ht ha he hi hu is id ga it ja kn kk ko lv lt mk ms ml mt mr mn no ps pl pt pt-PT pa ro "
    "ru sr si sk sl so es es-MX sw sv ta te th tr uk ur uz vi cy "
)
TRANSLATE_LANGUAGES: frozenset[str] = frozenset(_CODES.split())

MAX_TARGETS_PER_JOB = 10  # StartTextTranslationJob accepts at most 10 target languages


def check_languages(source: str, targets: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Validate a source language and its targets; return the targets, deduplicated in order."""
    if source not in TRANSLATE_LANGUAGES:
        raise ConfigurationError(f"unsupported source language code {source!r}")
    if not targets:
        raise ConfigurationError("at least one target language is required")
    unknown = [code for code in targets if code not in TRANSLATE_LANGUAGES]
    if unknown:
        raise ConfigurationError(f"unsupported target language code(s): {', '.join(unknown)}")
    unique = tuple(dict.fromkeys(targets))
    if source in unique:
        raise ConfigurationError(f"target languages include the source language {source!r}")
    return unique
