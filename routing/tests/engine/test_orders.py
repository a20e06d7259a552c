"""Deterministic client order ids (routing.engine.orders)."""

from __future__ import annotations

import hashlib
import re

import pytest

from routing.engine.orders import client_order_id, client_order_ids

_FORMAT = re.compile(r"^ct-[0-9a-f]{24}$")


def test_client_order_id_when_same_keys_then_same_id() -> None:
    # Act
    first = client_order_id("route-1", "LEAD:fill-9", "follower-3")
    second = client_order_id("route-1", "LEAD:fill-9", "follower-3")

    # Assert
    assert first == second


def test_client_order_id_when_called_then_ct_dash_24_lowercase_hex() -> None:
    # Act
    coid = client_order_id("route-1", "LEAD:fill-9", "follower-3")

    # Assert: "ct-" + 24 hex = 27 chars, inside the common 32-char limit
    assert _FORMAT.match(coid)
    assert len(coid) == 27


def test_client_order_id_when_called_then_is_sha256_prefix_of_joined_keys() -> None:
    # Arrange: pins the id across releases; a change would re-send replayed events
    expected = "ct-" + hashlib.sha256(b"r\x1fe\x1ff").hexdigest()[:24]

    # Act
    coid = client_order_id("r", "e", "f")

    # Assert
    assert coid == expected


@pytest.mark.parametrize(
    "keys",
    [
        ("route-2", "LEAD:fill-9", "follower-3"),  # other route
        ("route-1", "LEAD:fill-10", "follower-3"),  # other event
        ("route-1", "LEAD:fill-9", "follower-4"),  # other follower
    ],
)
def test_client_order_id_when_any_key_differs_then_id_differs(keys: tuple[str, str, str]) -> None:
    # Arrange
    base = client_order_id("route-1", "LEAD:fill-9", "follower-3")

    # Act
    other = client_order_id(*keys)

    # Assert
    assert other != base


def test_client_order_id_when_keys_swapped_then_id_differs() -> None:
    # Arrange: the position of each key matters, not only the set of keys
    a = client_order_id("x", "y", "z")

    # Act
    b = client_order_id("y", "x", "z")

    # Assert
    assert a != b


def test_client_order_id_when_boundary_moves_then_id_differs() -> None:
    # Arrange: plain concatenation would make "ab"+"c" equal to "a"+"bc"
    a = client_order_id("ab", "c", "f")

    # Act
    b = client_order_id("a", "bc", "f")

    # Assert
    assert a != b


@pytest.mark.parametrize(
    ("keys", "name"),
    [
        (("", "e", "f"), "route"),
        (("r", "", "f"), "event"),
        (("r", "e", ""), "follower"),
    ],
)
def test_client_order_id_when_key_empty_then_raises_naming_it(
    keys: tuple[str, str, str], name: str
) -> None:
    # Act / Assert
    with pytest.raises(ValueError, match=f"non-empty {name} key"):
        client_order_id(*keys)


def test_client_order_ids_when_many_followers_then_each_hashes_route_event_and_follower() -> None:
    # Arrange: the stored scheme, written out: ids must never change between
    # versions (a re-delivered event must find the orders it already made).
    keys = ("follower-3", "42", "é")
    head = b"route-1\x1fLEAD:fill-9\x1f"

    # Act
    ids = client_order_ids("route-1", "LEAD:fill-9", keys)

    # Assert
    assert ids == ["ct-" + hashlib.sha256(head + k.encode()).hexdigest()[:24] for k in keys]
    assert ids[1] == client_order_id("route-1", "LEAD:fill-9", "42")


def test_client_order_ids_when_no_follower_then_nothing_raises_even_with_an_empty_key() -> None:
    # An event with no followers needs no id.
    assert client_order_ids("", "LEAD:fill-9", []) == []


@pytest.mark.parametrize(
    ("route", "event", "keys", "name"),
    [
        ("", "LEAD:fill-9", ["follower-3"], "route"),
        ("route-1", "", ["follower-3"], "event"),
        ("route-1", "LEAD:fill-9", ["follower-3", ""], "follower"),
    ],
)
def test_client_order_ids_when_a_key_is_empty_then_raises_before_any_id(
    route: str, event: str, keys: list[str], name: str
) -> None:
    with pytest.raises(ValueError, match=f"non-empty {name} key"):
        client_order_ids(route, event, keys)
