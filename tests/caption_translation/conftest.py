"""The `account` fixture: a moto account the caption handlers run against."""

from tests.caption_translation.handler_account import account  # noqa: F401
