"""Fixtures for the routing tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def upload_dir(settings: Any, tmp_path: Path) -> Path:
    """``UPLOAD_DIR`` in the test's temporary directory (uploads never land in the checkout)."""
    path = tmp_path / "uploads"
    settings.UPLOAD_DIR = path
    return path
