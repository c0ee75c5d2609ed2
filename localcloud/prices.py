"""AWS list prices the workflows incur, read from `prices.json` (AWS's pricing pages, us-east-1).

Each service entry names the pricing page its prices were read from; `asOf` is the day they were
read. Prices change: re-read the pages and update the file and its date together.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PRICES_FILE = Path(__file__).with_name("prices.json")
PRICING_PAGE = re.compile(r"^https://aws\.amazon\.com/[a-z0-9-]+/pricing/([a-z0-9-]+/)?$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class PriceListError(ValueError):
    """The price file is malformed or lacks a price the cost model needs."""


@dataclass(frozen=True)
class Price:
    usd: float
    unit: str
    source: str


@dataclass(frozen=True)
class PriceList:
    as_of: str
    region: str
    prices: dict[str, Price]  # "service.name" -> price

    def usd(self, key: str) -> float:
        return self.price(key).usd

    def price(self, key: str) -> Price:
        if key not in self.prices:
            raise PriceListError(f"no price {key!r} in the price list")
        return self.prices[key]

    def sources(self) -> dict[str, str]:
        return {key.split(".", 1)[0]: price.source for key, price in self.prices.items()}


def parse(document: Any) -> PriceList:
    """Validates and flattens the price document; every problem is reported by its path."""
    if not isinstance(document, dict):
        raise PriceListError("the price list must be a JSON object")
    as_of, region = document.get("asOf"), document.get("region")
    if not isinstance(as_of, str) or not DATE.match(as_of):
        raise PriceListError(f"asOf must be a YYYY-MM-DD date, got {as_of!r}")
    if not isinstance(region, str) or not region:
        raise PriceListError("region is missing")
    services = document.get("services")
    if not isinstance(services, dict) or not services:
        raise PriceListError("services must be a non-empty object")
    flat: dict[str, Price] = {}
    for service, entry in services.items():
        source = entry.get("source") if isinstance(entry, dict) else None
        if not isinstance(source, str) or not PRICING_PAGE.match(source):
            raise PriceListError(f"services.{service}.source must be an AWS pricing page URL")
        prices = entry.get("prices")
        if not isinstance(prices, dict) or not prices:
            raise PriceListError(f"services.{service}.prices must be a non-empty object")
        for name, price in prices.items():
            where = f"services.{service}.prices.{name}"
            if not isinstance(price, dict):
                raise PriceListError(f"{where} must be an object")
            usd, unit = price.get("usd"), price.get("unit")
            if isinstance(usd, bool) or not isinstance(usd, int | float) or usd < 0:
                raise PriceListError(f"{where}.usd must be a non-negative number")
            if not isinstance(unit, str) or not unit:
                raise PriceListError(f"{where}.unit is missing")
            flat[f"{service}.{name}"] = Price(float(usd), unit, source)
    return PriceList(as_of=as_of, region=region, prices=flat)


def load(path: Path = PRICES_FILE) -> PriceList:
    return parse(json.loads(path.read_text(encoding="utf-8")))
