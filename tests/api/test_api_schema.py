"""The OpenAPI 3 schema validates, and its Swagger UI is served by this
site (drf-spectacular-sidecar) under the strict Content Security Policy."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

from tests.csp_checks import markup_problems, nonce_of, policy_of

pytestmark = pytest.mark.django_db


def test_schema_when_generated_then_valid_without_warnings(tmp_path: Path) -> None:
    target = tmp_path / "schema.yaml"

    # Raises (SchemaGenerationError / SystemExit) on any warning or invalid schema.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))

    text = target.read_text()
    assert text.startswith("openapi: 3.")
    assert "/api/v1/groups/{id}/flatten/:" in text
    assert "/api/v1/auth/token/:" in text


def test_schema_when_served_then_the_api_only(db: None) -> None:
    response = Client().get("/api/v1/schema/", {"format": "json"})

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert all(path.startswith("/api/v1/") for path in schema["paths"])
    assert "tokenAuth" in schema["components"]["securitySchemes"]


def test_docs_when_served_then_local_files_and_every_inline_script_has_the_nonce(
    db: None,
) -> None:
    client = Client()

    response = client.get("/api/v1/docs/")

    assert response.status_code == 200
    assert "text/html" in response["Content-Type"]
    nonce = nonce_of(policy_of(response.headers["Content-Security-Policy"]))
    assert nonce is not None
    markup = markup_problems(response.text, nonce)
    assert markup.problems == []
    assert markup.nonces_seen == 2  # the inline style and the inline script
    sources = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', response.text)
    assert sources, response.text
    for source in sources:
        assert source.startswith("/static/drf_spectacular_sidecar/"), source
        assert client.get(source).status_code == 200, source
