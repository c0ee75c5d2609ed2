"""Names that users choose, made safe to build object keys from.

A workflow turns an upload's name into output keys (`output/es/<name>`, `failed/<name>`), and
tools such as `aws s3 sync` turn keys into file paths. A `..` segment would make such a tool
write outside the folder it syncs into; an empty or `.` segment (`/etc/x`, `a//b`, `a/./b`)
names a different file than the key says. Names with such segments (either slash counts as a
separator) are rejected, never cleaned up, so no output key ever carries them.

A rejected name still has a quarantined copy and an error report; they are filed under
`unsafe-keys/<digest>/<last segment>`, a name derived from the whole key. Names starting
with `unsafe-keys/` are rejected as well, so an accepted name never takes that place.
"""

from __future__ import annotations

import hashlib

from lambdas.shared.errors import InputError

UNSAFE_KEYS = "unsafe-keys"
PATH_TRICKS = {
    "..": "a '..' segment, which would lead out of its folder",
    ".": "a '.' segment",
    "": "an empty segment (a leading '/' or '//')",
}


class UnsafeKeyError(InputError):
    code = "unsafe-key"


def unsafe_reason(name: str) -> str | None:
    """Why `name` cannot be part of an object key, or None when it can."""
    segments = name.replace("\\", "/").split("/")
    for segment, reason in PATH_TRICKS.items():
        if segment in segments:
            return reason
    if segments[0] == UNSAFE_KEYS:
        return f"the folder {UNSAFE_KEYS}/, which holds the files of rejected names"
    return None


def check_name(name: str) -> str:
    """`name` unchanged, or `UnsafeKeyError` saying why it is rejected."""
    reason = unsafe_reason(name)
    if reason is not None:
        raise UnsafeKeyError(f"the name {name!r} has {reason}; rename the file and upload it again")
    return name


def safe_name(name: str) -> str:
    """`name` when it is safe; otherwise the name its quarantined files are filed under."""
    if unsafe_reason(name) is None:
        return name
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:20]
    last = name.replace("\\", "/").rsplit("/", 1)[-1]
    return f"{UNSAFE_KEYS}/{digest}" + ("" if last in PATH_TRICKS else f"/{last}")
