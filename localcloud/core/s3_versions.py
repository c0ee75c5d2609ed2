"""S3 object version ids the local cloud gives: derived, not random.

On AWS a version id is opaque (URL-safe, at most 1,024 bytes). Here it is derived from the
bucket, the key and the key's version ordinal (its first version, second, ... counting delete
markers), so the same uploads to a freshly started local cloud get the same ids and a committed
event can name the version an upload will have. Ordinals only grow: a deleted version's id is
never given again, and `python -m localcloud serve --state DIR` keeps the ordinals with the data
(`localcloud.state`), so ids stay unique per key across restarts too.

`localcloud.core.moto_hooks` makes moto's S3 use these ids for new object versions and delete
markers.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Iterable, Mapping

ID_LENGTH = 32  # as long as the ids S3 gives today


def version_id(bucket: str, key: str, ordinal: int) -> str:
    """The id of `key`'s `ordinal`-th version (from 1) in `bucket`: 32 characters of
    [A-Za-z0-9._], the alphabet of the ids S3 gives."""
    digest = hashlib.sha256(f"{bucket}\0{key}\0{ordinal}".encode()).digest()
    text = base64.urlsafe_b64encode(digest).decode("ascii").replace("-", ".")
    return text[:ID_LENGTH]


class VersionIds:
    """The next version id of every key, per bucket; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ordinals: dict[str, dict[str, int]] = {}

    def next_id(self, bucket: str, key: str) -> str:
        with self._lock:
            keys = self._ordinals.setdefault(bucket, {})
            keys[key] = ordinal = keys.get(key, 0) + 1
        return version_id(bucket, key, ordinal)

    def ordinals(self, buckets: Iterable[str]) -> dict[str, dict[str, int]]:
        """The last ordinal given for each key of `buckets` (keys without an object too)."""
        with self._lock:
            return {
                bucket: dict(self._ordinals[bucket])
                for bucket in buckets
                if self._ordinals.get(bucket)
            }

    def restore(self, ordinals: Mapping[str, Mapping[str, int]]) -> None:
        """Continue from saved ordinals (never going back on one given since)."""
        with self._lock:
            for bucket, keys in ordinals.items():
                current = self._ordinals.setdefault(bucket, {})
                for key, ordinal in keys.items():
                    current[key] = max(current.get(key, 0), int(ordinal))
