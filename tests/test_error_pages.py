"""The 404 and 500 pages are the project's own, styled, with no server detail."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import path

from accounts.models import User


def _boom(request: object) -> None:
    raise RuntimeError("/work/secret/path/settings.py exploded")


urlpatterns = [path("boom/", _boom)]


@pytest.mark.django_db
def test_a_missing_page_is_the_styled_404(alice: User) -> None:
    client = Client()
    client.force_login(alice)
    response = client.get("/groups/999999/")
    assert response.status_code == 404
    assert 'data-testid="not-found"' in response.text
    assert "css/app.css" in response.text


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_a_server_error_is_the_styled_500_without_detail() -> None:
    client = Client(raise_request_exception=False)
    response = client.get("/boom/")
    assert response.status_code == 500
    assert 'data-testid="server-error"' in response.text
    assert "/work/secret" not in response.text
    assert "RuntimeError" not in response.text
