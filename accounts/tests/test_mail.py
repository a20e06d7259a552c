"""Mail settings: the console by default, links printed whole."""

from __future__ import annotations

import importlib
import io

import pytest
from django.core.mail import EmailMessage

from accounts.mail import ConsoleEmailBackend
from copytrade.settings import auth as auth_settings

LINK = "http://127.0.0.1:8000/accounts/confirm-email/MQ:1xZ5SM:rk68BZSIN2QCA9xqDUN-i8wLBkybYWyHpsIGNHJDFa4/"


def test_console_backend_prints_long_link_whole() -> None:
    # Arrange: a line past 76 characters, which MIME would wrap.
    stream = io.StringIO()
    backend = ConsoleEmailBackend(stream=stream, alias="default")
    message = EmailMessage("Confirm", f"To confirm this is correct, go to {LINK}", "a@x", ["b@y"])
    # Act
    backend.send_messages([message])
    # Assert
    out = stream.getvalue()
    assert LINK in out
    assert "To: b@y" in out
    assert "Subject: Confirm" in out


@pytest.fixture
def reload_auth_settings():
    yield
    importlib.reload(auth_settings)


@pytest.mark.usefixtures("reload_auth_settings")
def test_without_email_settings_mail_goes_to_console(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EMAIL_BACKEND", raising=False)
    importlib.reload(auth_settings)
    assert auth_settings.MAILERS["default"]["BACKEND"] == "accounts.mail.ConsoleEmailBackend"


@pytest.mark.usefixtures("reload_auth_settings")
def test_smtp_settings_come_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
    monkeypatch.setenv("EMAIL_HOST", "smtp.example.com")
    monkeypatch.setenv("EMAIL_PORT", "587")
    monkeypatch.setenv("EMAIL_HOST_USER", "copytrade")
    monkeypatch.setenv("EMAIL_HOST_PASSWORD", "s3cret")
    monkeypatch.setenv("EMAIL_USE_TLS", "True")
    importlib.reload(auth_settings)
    options = auth_settings.MAILERS["default"]["OPTIONS"]
    assert options["host"] == "smtp.example.com"
    assert options["port"] == 587
    assert (options["username"], options["password"]) == ("copytrade", "s3cret")
    assert options["use_tls"] is True
    assert options["use_ssl"] is False
