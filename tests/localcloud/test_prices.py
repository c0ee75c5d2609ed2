import copy
import json

import pytest

from localcloud.prices import PRICES_FILE, PriceListError, load, parse


def _document() -> dict:
    return json.loads(PRICES_FILE.read_text(encoding="utf-8"))


def test_price_list_is_dated_for_us_east_1_and_every_service_names_its_page():
    prices = load()
    assert prices.as_of == "2026-12-06"
    assert prices.region == "us-east-1"
    sources = prices.sources()
    assert sources["translate"] == "https://aws.amazon.com/translate/pricing/"
    assert all(url.startswith("https://aws.amazon.com/") for url in sources.values())


def test_prices_the_brief_fixes_are_read_as_stated_per_unit():
    prices = load()
    assert prices.usd("translate.characterRealtime") * 1_000_000 == pytest.approx(15)
    assert prices.usd("comprehend.customEndpointInferenceUnitSecond") * 3600 == pytest.approx(1.8)
    assert prices.usd("stepfunctions.standardStateTransition") * 1000 == pytest.approx(0.025)


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("asOf",), "6 Dec 2026", "asOf"),
        (("services", "translate", "source"), "https://example.com/", "source"),
        (("services", "glue", "prices", "dpuHour", "usd"), -1, "usd"),
        (("services", "glue", "prices", "dpuHour", "unit"), "", "unit"),
    ],
)
def test_malformed_price_list_is_rejected_naming_the_field(path, value, message):
    document = copy.deepcopy(_document())
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(PriceListError, match=message):
        parse(document)


def test_unknown_price_is_a_clear_error():
    with pytest.raises(PriceListError, match="no price"):
        load().usd("translate.neural")
