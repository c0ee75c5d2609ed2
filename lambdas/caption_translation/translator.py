"""The `Translator` the caption model needs, backed by Amazon Translate's TranslateText.

TranslateText keeps HTML markup (Translate Developer Guide, "do-not-translate"), so one call
translates a whole document of cue elements. Throttling is retried by botocore's standard retry
mode; what still fails propagates to the caller's retry policy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class TranslateTextTranslator:
    def __init__(
        self,
        client: Any,
        source_language: str,
        target_language: str,
        terminology_names: tuple[str, ...] = (),
    ) -> None:
        self.client = client
        self.source_language = source_language
        self.target_language = target_language
        self.terminology_names = list(terminology_names)
        self.calls = 0
        self.characters = 0

    def _translate(self, text: str, settings: dict[str, str] | None = None) -> str:
        kwargs: dict[str, Any] = {
            "Text": text,
            "SourceLanguageCode": self.source_language,
            "TargetLanguageCode": self.target_language,
        }
        if settings:
            kwargs["Settings"] = settings
        if self.terminology_names:
            kwargs["TerminologyNames"] = self.terminology_names
        self.calls += 1
        self.characters += len(text)
        return str(self.client.translate_text(**kwargs)["TranslatedText"])

    def translate_html(self, html: str) -> str:
        return self._translate(html)

    def translate_text(self, text: str) -> str:
        return self._translate(text)

    def translate_html_briefly(self, html: str) -> str:
        """The same with Translate's brevity setting, which shortens most translations into
        French, German, Italian, Portuguese and Spanish (and from them into English)."""
        return self._translate(html, {"Brevity": "ON"})


def translator_factory(
    client: Any, terminology_names: tuple[str, ...]
) -> Callable[[str, str], TranslateTextTranslator]:
    """(source, target) -> a translator for that language pair, sharing one client."""

    def create(source: str, target: str) -> TranslateTextTranslator:
        return TranslateTextTranslator(client, source, target, terminology_names)

    return create
