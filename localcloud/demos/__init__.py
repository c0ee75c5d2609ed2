"""Demos: each runs one workflow end to end on the local cloud, as its users would."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable


def accounting(
    items_in: Iterable[str], outputs: Iterable[str], quarantined: Iterable[str]
) -> dict[str, int]:
    """What a run did with its input items, judged by what came out (one entry per copy found:
    a file written, a row in the warehouse), never by the workflow's own counters. Every item
    should come out once, as an output or quarantined with its reason: `lost` counts items that
    did not, `duplicated` the extra copies of those that came out more than once (including an
    item both written and quarantined), `unexpected` what came out that no input explains."""
    wanted = set(items_in)
    written, rejected = list(outputs), list(quarantined)
    copies = Counter(written) + Counter(rejected)
    return {
        "itemsIn": len(wanted),
        "outputs": len(set(written) & wanted),
        "quarantined": len(set(rejected) & wanted),
        "lost": len(wanted - set(copies)),
        "duplicated": sum(count - 1 for item, count in copies.items() if item in wanted),
        "unexpected": sum(count for item, count in copies.items() if item not in wanted),
    }
