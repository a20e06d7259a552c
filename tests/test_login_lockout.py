"""Login throttling and lockout (django-axes): after five failures of one
login name from one address the right password is refused too; every
failure is recorded, and journaled for the user it was aimed at."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from accounts.models import User
from journal.models import EventType, JournalEntry

PASSWORD = "alice-password-1"  # conftest's alice
ATTACKER = "203.0.113.7"
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    # allauth counts its rate limits in the cache, which outlives a test's
    # database rollback: each test starts from no attempts.
    cache.clear()


def _login(client: Client, login: str, password: str, address: str = ATTACKER):
    return client.post(
        reverse("login"), {"login": login, "password": password}, REMOTE_ADDR=address
    )


def _journal(user: User, event_type: str) -> list[str]:
    return list(
        JournalEntry.objects.filter(owner_id=user.pk, event_type=event_type)
        .order_by("id")
        .values_list("message", flat=True)
    )


def test_five_failures_lock_the_login_and_the_right_password_is_refused(alice: User) -> None:
    client = Client()
    for attempt in range(4):
        refused = _login(client, "alice", f"wrong-{attempt}")
        assert refused.status_code == 200  # the form again, with its error
    locking = _login(client, "alice", "wrong-4")
    # Act: the right password, from the same address.
    right = _login(client, "alice", PASSWORD)
    # Assert: locked out (429 and the page), not logged in.
    assert locking.status_code == 429
    assert right.status_code == 429
    assert 'data-testid="locked-out"' in right.text
    assert "_auth_user_id" not in client.session
    attempt = AccessAttempt.objects.get(username="alice", ip_address=ATTACKER)
    assert attempt.failures_since_start >= 5
    assert AccessFailureLog.objects.filter(username="alice", ip_address=ATTACKER).count() >= 5
    # Five failures, and the right password refused while locked.
    failed = _journal(alice, EventType.LOGIN_FAILED)
    assert len(failed) == 6
    assert failed[0] == f"Failed login for alice from {ATTACKER}"
    [locked] = _journal(alice, EventType.LOGIN_LOCKED_OUT)
    assert locked.startswith(f"Login for alice locked from {ATTACKER} after repeated failures")


def test_a_hundred_more_attempts_stay_refused_and_recorded(alice: User) -> None:
    client = Client()
    for attempt in range(5):
        _login(client, "alice", f"wrong-{attempt}")
    answers = [_login(client, "alice", f"guess-{n}") for n in range(100)]
    # Refused by axes (429) or, past 10 a minute from one address, by
    # allauth's rate limit in front of it (the form with its message).
    assert {a.status_code for a in answers} <= {429, 200}
    assert all(a.status_code == 429 or "Too many failed login attempts" in a.text for a in answers)
    assert _login(client, "alice", PASSWORD).status_code in (429, 200)
    assert "_auth_user_id" not in client.session
    # One lockout in the journal, not one per refused attempt.
    assert len(_journal(alice, EventType.LOGIN_LOCKED_OUT)) == 1
    assert AccessAttempt.objects.get(username="alice").failures_since_start >= 5


def test_the_lock_is_per_address_the_owner_elsewhere_logs_in(alice: User) -> None:
    attacker = Client()
    for attempt in range(5):
        _login(attacker, "alice", f"wrong-{attempt}")
    owner = Client()
    response = _login(owner, "alice", PASSWORD, address="198.51.100.20")
    assert response.status_code == 302
    assert owner.session["_auth_user_id"] == str(alice.pk)


def test_changing_an_address_case_does_not_reset_the_count(alice: User) -> None:
    alice.email = "alice@example.com"
    alice.save()
    client = Client()
    for n, spelling in enumerate(["alice@example.com", "ALICE@example.com", "Alice@Example.com"]):
        _login(client, spelling, f"wrong-{n}")
    for n in range(2):
        _login(client, "alice@EXAMPLE.com", f"again-{n}")
    assert _login(client, "alice@example.com", PASSWORD).status_code == 429


def test_a_success_before_the_limit_starts_the_count_again(alice: User) -> None:
    client = Client()
    for attempt in range(4):
        _login(client, "alice", f"wrong-{attempt}")
    assert _login(client, "alice", PASSWORD).status_code == 302
    client.logout()
    for attempt in range(4):
        _login(client, "alice", f"wrong-again-{attempt}")
    assert _login(client, "alice", PASSWORD).status_code == 302


def test_the_admin_login_is_locked_the_same_way(staff: User) -> None:
    client = Client()
    url = reverse("admin:login")
    for attempt in range(5):
        client.post(
            url, {"username": "staff", "password": f"wrong-{attempt}"}, REMOTE_ADDR=ATTACKER
        )
    response = client.post(
        url, {"username": "staff", "password": "staff-password-1"}, REMOTE_ADDR=ATTACKER
    )
    assert response.status_code == 429
    # Five failures, and the right password refused while locked.
    assert len(_journal(staff, EventType.LOGIN_FAILED)) == 6
