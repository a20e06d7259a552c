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


def test_client_order_ids_when_called_then_same_ids_as_client_order_id() -> None:
    # Arrange: one event's id function, as decide_copies makes it once per event
    order_id = client_order_ids("route-1", "LEAD:fill-9")

    # Act
    ids = [order_id(f) for f in ("follower-3", "42", "é")]

    # Assert
    assert ids == [client_order_id("route-1", "LEAD:fill-9", f) for f in ("follower-3", "42", "é")]


def test_client_order_ids_when_route_empty_then_raises_only_when_called() -> None:
    # Arrange: an event with no followers needs no id, so nothing raises yet
    order_id = client_order_ids("", "LEAD:fill-9")

    # Act / Assert
    with pytest.raises(ValueError, match="non-empty route key"):
        order_id("follower-3")
