"""POST /api/v1/webhooks/tradingview/<token>/: every answer the sender can get,
and what a good alert does (a leader event and its followers' copy orders)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from conftest import Route
from journal.models import EventType, JournalEntry, Position
from routing.models import CopyOrder, LeaderEvent
from routing.tests.webhooks.conftest import alert
from routing.webhooks import views as webhook_views
from routing.webhooks.settings import (
    WebhookSecret,
    webhook_disable,
    webhook_rotate,
    webhook_secret_matches,
)

pytestmark = pytest.mark.django_db


def _post(token: str, body: Any, *, content_type: str = "application/json") -> Any:
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    url = reverse("webhook_tradingview", kwargs={"token": token})
    return Client().post(url, data=data, content_type=content_type)


def _alert_journal() -> list[JournalEntry]:
    return list(JournalEntry.objects.filter(actor_label="tradingview").order_by("pk"))


def test_good_buy_becomes_leader_event_with_followers_copy_orders(
    route: Route, hook: WebhookSecret
) -> None:
    # Act
    response = _post(hook.webhook.token, alert(hook.secret))
    # Assert
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "accepted"
    event = LeaderEvent.objects.get()
    assert (event.account_id, event.external_id, event.symbol) == (
        route.leader.pk,
        f"tv:{route.group.pk}:a1",
        "MNQH6",
    )
    assert (event.side, event.qty, event.price, event.source) == (
        "buy",
        2,
        Decimal(21000),
        "tradingview",
    )
    orders = {o.account_id: o for o in CopyOrder.objects.filter(leader_event=event)}
    assert orders[route.small.pk].qty == 1  # 2 x 0.5
    assert orders[route.large.pk].qty == 6  # 2 x 3
    assert {o.status for o in orders.values()} == {CopyOrder.Status.PENDING}
    journaled = _alert_journal()
    assert journaled[-1].event_type == EventType.LEADER_EVENT_RECEIVED
    assert journaled[-1].group_id == route.group.pk
    assert hook.secret not in json.dumps(journaled[-1].extra_data)
    assert hook.secret not in journaled[-1].message


def test_repeated_alert_id_is_a_no_op_answered_duplicate(route: Route, hook: WebhookSecret) -> None:
    assert _post(hook.webhook.token, alert(hook.secret)).status_code == 200
    # Act: the same alert again (TradingView retries), even with other numbers.
    response = _post(hook.webhook.token, alert(hook.secret, quantity=5))
    # Assert
    assert response.status_code == 200
    assert response.json()["status"] == "duplicate"
    assert "duplicate" in response.json()["detail"]
    assert LeaderEvent.objects.count() == 1
    assert CopyOrder.objects.count() == 2
    assert _alert_journal()[-1].extra_data["status"] == "duplicate"


def test_exit_takes_the_leader_flat_and_a_second_exit_is_a_no_op(
    route: Route, hook: WebhookSecret
) -> None:
    _post(hook.webhook.token, alert(hook.secret, quantity=3, alert_id="in"))
    # Act: exit, without quantity or price (priced at the last mark: 21000).
    body = alert(hook.secret, action="exit", alert_id="out")
    del body["quantity"], body["price"]
    response = _post(hook.webhook.token, body)
    # Assert
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "accepted"
    exit_event = LeaderEvent.objects.get(external_id=f"tv:{route.group.pk}:out")
    assert (exit_event.side, exit_event.qty, exit_event.price) == ("sell", 3, Decimal(21000))
    assert Position.objects.get(account=route.leader, symbol="MNQH6").qty == 0
    exits = CopyOrder.objects.filter(leader_event=exit_event)
    assert sorted(o.qty for o in exits) == [1, 9]  # each follower closes all it holds (1, 9)
    # Act: exit again while flat.
    again = _post(hook.webhook.token, alert(hook.secret, action="exit", alert_id="out2"))
    assert again.status_code == 200
    assert again.json()["status"] == "flat"
    assert LeaderEvent.objects.count() == 2


def test_sell_opens_short_and_exit_buys_it_back(route: Route, hook: WebhookSecret) -> None:
    _post(hook.webhook.token, alert(hook.secret, action="sell", quantity=2, alert_id="s"))
    response = _post(hook.webhook.token, alert(hook.secret, action="exit", alert_id="x"))
    assert response.status_code == 200
    event = LeaderEvent.objects.get(external_id=f"tv:{route.group.pk}:x")
    assert (event.side, event.qty) == ("buy", 2)
    assert Position.objects.get(account=route.leader, symbol="MNQH6").qty == 0


def test_bad_secret_is_403_and_journaled_without_the_secret(
    route: Route, hook: WebhookSecret
) -> None:
    response = _post(hook.webhook.token, alert("not-the-secret"))
    assert response.status_code == 403
    assert LeaderEvent.objects.count() == 0
    entry = _alert_journal()[-1]
    assert entry.extra_data["status"] == "forbidden"
    assert "not-the-secret" not in json.dumps(entry.extra_data) + entry.message


def test_unknown_token_is_404(route: Route, hook: WebhookSecret) -> None:
    assert _post("no-such-token", alert(hook.secret)).status_code == 404


def test_disabled_webhook_is_404(route: Route, hook: WebhookSecret) -> None:
    webhook_disable(group=route.group, actor=route.owner)
    assert _post(hook.webhook.token, alert(hook.secret)).status_code == 404
    assert LeaderEvent.objects.count() == 0


def test_rotation_invalidates_the_old_secret(route: Route, hook: WebhookSecret) -> None:
    rotated = webhook_rotate(group=route.group, actor=route.owner)
    assert rotated is not None and rotated.secret != hook.secret
    assert rotated.webhook.token == hook.webhook.token  # the URL stays
    assert _post(hook.webhook.token, alert(hook.secret)).status_code == 403
    assert _post(hook.webhook.token, alert(rotated.secret)).status_code == 200


def test_secret_is_stored_hashed(route: Route, hook: WebhookSecret) -> None:
    hook.webhook.refresh_from_db()
    assert hook.secret not in hook.webhook.secret_hash
    assert hook.webhook.secret_hash.startswith("sha256$")
    assert webhook_secret_matches(hook.webhook, hook.secret)
    assert not webhook_secret_matches(hook.webhook, hook.secret + "x")


def test_malformed_json_is_400(route: Route, hook: WebhookSecret) -> None:
    response = _post(hook.webhook.token, '{"secret": "x", ')
    assert response.status_code == 400
    assert "malformed JSON" in response.json()["detail"]
    assert _post(hook.webhook.token, "[1, 2]").status_code == 400


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"action": "hold"}, "action"),
        ({"quantity": 0}, "quantity"),
        ({"quantity": "2.5"}, "quantity"),
        ({"quantity": None}, "quantity"),
        ({"price": "-1"}, "price"),
        ({"price": "abc"}, "price"),
        ({"order_type": "stop"}, "order_type"),
        ({"alert_id": "has space"}, "alert_id"),
        ({"symbol": None}, "symbol"),
    ],
)
def test_invalid_fields_are_400_with_the_field_errors(
    route: Route, hook: WebhookSecret, change: dict[str, Any], field: str
) -> None:
    response = _post(hook.webhook.token, alert(hook.secret, **change))
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert LeaderEvent.objects.count() == 0
    entry = _alert_journal()[-1]
    assert entry.event_type == EventType.LEADER_EVENT_REJECTED
    assert entry.extra_data["status"] == "refused"
    assert f"{field}: " in entry.message
    assert hook.secret not in entry.message + json.dumps(entry.extra_data)


def test_missing_fields_are_400_naming_each(route: Route, hook: WebhookSecret) -> None:
    response = _post(hook.webhook.token, {"secret": hook.secret})
    assert response.status_code == 400
    assert set(response.json()["errors"]) >= {"symbol", "action", "order_type", "alert_id"}


def test_tradingview_quantity_spelling_reads_as_whole_contracts(
    route: Route, hook: WebhookSecret
) -> None:
    response = _post(hook.webhook.token, alert(hook.secret, quantity="2.0", price="21000.25"))
    assert response.status_code == 200, response.content
    assert LeaderEvent.objects.get().qty == 2


def test_limit_order_is_refused_saying_only_market(route: Route, hook: WebhookSecret) -> None:
    response = _post(hook.webhook.token, alert(hook.secret, order_type="limit"))
    assert response.status_code == 400
    assert "only market" in response.json()["detail"]
    assert LeaderEvent.objects.count() == 0


def test_unknown_symbol_is_400(route: Route, hook: WebhookSecret) -> None:
    for ticker in ("ZZZH2026", "not a symbol", "CL1!"):
        response = _post(hook.webhook.token, alert(hook.secret, symbol=ticker, alert_id="u"))
        assert response.status_code == 400, ticker
        assert "symbol" in response.json()["errors"]
    assert LeaderEvent.objects.count() == 0


def test_no_price_known_is_400_never_a_default_price(route: Route, hook: WebhookSecret) -> None:
    body = alert(hook.secret)
    del body["price"]
    response = _post(hook.webhook.token, body)
    assert response.status_code == 400
    assert response.json()["detail"] == "no price known for MNQH6: send price"
    assert LeaderEvent.objects.count() == 0


def test_continuous_symbol_maps_to_the_front_month(route: Route, hook: WebhookSecret) -> None:
    response = _post(hook.webhook.token, alert(hook.secret, symbol="MNQ1!"))
    assert response.status_code == 200, response.content
    assert LeaderEvent.objects.get().symbol[:3] == "MNQ"


def test_only_post_json(route: Route, hook: WebhookSecret) -> None:
    url = reverse("webhook_tradingview", kwargs={"token": hook.webhook.token})
    assert Client().get(url).status_code == 405
    form = Client().post(url, data={"secret": hook.secret})
    assert form.status_code == 415


def test_oversized_body_is_413(route: Route, hook: WebhookSecret) -> None:
    body = alert(hook.secret, padding="x" * (webhook_views.MAX_BODY_BYTES + 1))
    assert _post(hook.webhook.token, body).status_code == 413


def test_rate_limit_per_group_is_429(
    route: Route, hook: WebhookSecret, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(webhook_views, "RATE_LIMIT", 2)
    codes = [
        _post(hook.webhook.token, alert(hook.secret, alert_id=f"r{n}")).status_code
        for n in range(3)
    ]
    assert codes == [200, 200, 429]
