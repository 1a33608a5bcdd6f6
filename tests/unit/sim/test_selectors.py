"""Structured label selectors: how controllers, validation and printers read `{matchLabels,
matchExpressions}`, and the one string form the API (Scale) and the tables show."""

from __future__ import annotations

import pytest

from conveyor.sim.selectors import selector_from_match, selector_to_string
from conveyor.sim.tables import format_label_selector

SELECTOR = {
    "matchLabels": {"tier": "web", "app": "shop"},
    "matchExpressions": [
        {"key": "env", "operator": "In", "values": ["prod", "canary"]},
        {"key": "legacy", "operator": "DoesNotExist"},
    ],
}


def test_structured_selector_matches_labels_meeting_every_requirement() -> None:
    selector = selector_from_match(SELECTOR)
    assert selector.matches({"app": "shop", "tier": "web", "env": "canary"})
    assert not selector.matches({"app": "shop", "tier": "web", "env": "dev"})
    assert not selector.matches({"app": "shop", "tier": "web", "env": "prod", "legacy": "1"})


def test_strict_selector_refuses_an_unknown_operator() -> None:
    with pytest.raises(KeyError):
        selector_from_match({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]})


def test_tolerant_selector_leaves_out_expressions_it_cannot_read() -> None:
    selector = selector_from_match(
        {"matchLabels": {"app": "shop"},
         "matchExpressions": [{"key": "a", "operator": "Gt"}, "not a mapping", {"operator": None}]},
        tolerant=True,
    )
    assert selector.matches({"app": "shop"})
    assert not selector.matches({"app": "other"})


@pytest.mark.parametrize(("operator", "holds"), [("In", False), ("Exists", False),
                                                 ("NotIn", True), ("DoesNotExist", True)])
def test_tolerant_expression_without_key_is_about_a_label_nobody_has(operator: str, holds: bool) -> None:
    selector = selector_from_match(
        {"matchExpressions": [{"operator": operator, "values": ["x"]}]}, tolerant=True
    )
    assert selector.matches({"app": "shop"}) is holds


def test_selector_string_sorts_match_labels_and_values() -> None:
    assert selector_to_string(SELECTOR) == "app=shop,tier=web,env in (canary,prod),!legacy"


def test_selector_string_leaves_out_expressions_without_a_known_operator() -> None:
    assert selector_to_string({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]},
                                                    {"key": "b", "operator": "Exists"}]}) == "b"


@pytest.mark.parametrize("selector", [None, {}, {"matchLabels": {}}])
def test_table_shows_none_for_an_empty_selector(selector: dict[str, object] | None) -> None:
    assert format_label_selector(selector) == "<none>"


def test_table_shows_the_selector_string_form() -> None:
    assert format_label_selector(SELECTOR) == selector_to_string(SELECTOR)
