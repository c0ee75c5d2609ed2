"""A support ticket as the classifier receives it: validation, normalisation and truncation.

The published contract is `{"TicketId", "TicketTitle", "TicketDescription",
"TicketCreationTime"}`. A ticket that breaks it raises `TicketError` with a code and a reason;
nothing is written for it. The text sent to Comprehend is the title and the description,
truncated at a character boundary to ClassifyDocument's 10,000 UTF-8 byte limit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lambdas.shared.errors import InputError

CLASSIFY_MAX_BYTES = 10_000  # ClassifyDocument: real-time documents of at most 10 KB of UTF-8
MAX_ID_LENGTH = 64
MAX_TITLE_BYTES = 1_000
MAX_DESCRIPTION_BYTES = 60_000  # the warehouse column holds 65,535 bytes
TICKET_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/#-]*$")
REQUIRED = ("TicketId", "TicketTitle", "TicketDescription", "TicketCreationTime")
WAREHOUSE_TIME = "%Y-%m-%d %H:%M:%S"


class TicketError(InputError):
    """The event is not a ticket the classifier can take; `code` names what is wrong."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code


@dataclass(frozen=True)
class Ticket:
    ticket_id: str
    title: str
    description: str
    creation_time: datetime  # UTC
    text: str  # what Comprehend classifies
    truncated: bool
    original_bytes: int

    @property
    def creation_time_text(self) -> str:
        return self.creation_time.strftime(WAREHOUSE_TIME)


def truncate_utf8(text: str, max_bytes: int) -> str:
    """The longest prefix of `text` whose UTF-8 encoding fits in `max_bytes`, never cutting a
    character in two."""
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    return encoded[:max_bytes].decode("utf-8", errors="ignore")


def parse_creation_time(value: str) -> datetime:
    """ISO 8601 (`2026-01-05T08:00:00Z`, an offset, or a space instead of `T`); a time without
    an offset is taken as UTC."""
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise TicketError(
            "invalid-creation-time",
            f"TicketCreationTime {value!r} is not an ISO 8601 date and time "
            "(for example 2026-01-05T08:00:00Z)",
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).replace(microsecond=0)


def _string_field(event: dict[str, Any], name: str) -> str:
    value = event.get(name)
    if value is None:
        raise TicketError("missing-field", f"{name} is missing")
    if not isinstance(value, str):
        raise TicketError("invalid-field", f"{name} must be a string, not {type(value).__name__}")
    return value


def parse_ticket(event: Any) -> Ticket:
    if not isinstance(event, dict):
        fields = ", ".join(REQUIRED)
        raise TicketError("invalid-event", f"the event must be a JSON object with {fields}")
    missing = [name for name in REQUIRED if event.get(name) is None]
    if missing:
        raise TicketError("missing-field", "missing " + ", ".join(missing))
    ticket_id = _string_field(event, "TicketId").strip()
    if not ticket_id or len(ticket_id) > MAX_ID_LENGTH or not TICKET_ID.match(ticket_id):
        raise TicketError(
            "invalid-ticket-id",
            f"TicketId must be 1 to {MAX_ID_LENGTH} letters, digits or ._:/#- "
            "starting with a letter or digit",
        )
    title = " ".join(_string_field(event, "TicketTitle").split())
    description = _string_field(event, "TicketDescription").strip()
    if not title and not description:
        raise TicketError("empty-text", "TicketTitle and TicketDescription are both empty")
    if len(title.encode("utf-8")) > MAX_TITLE_BYTES:
        raise TicketError("title-too-long", f"TicketTitle is over {MAX_TITLE_BYTES} bytes")
    creation_time = parse_creation_time(_string_field(event, "TicketCreationTime"))
    full_text = f"{title}. {description}" if title and description else title or description
    original_bytes = len(full_text.encode("utf-8"))
    text = truncate_utf8(full_text, CLASSIFY_MAX_BYTES)
    return Ticket(
        ticket_id=ticket_id,
        title=title,
        description=truncate_utf8(description, MAX_DESCRIPTION_BYTES),
        creation_time=creation_time,
        text=text,
        truncated=len(text) < len(full_text),
        original_bytes=original_bytes,
    )
