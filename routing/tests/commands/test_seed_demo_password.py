"""The demo password is generated per machine (issue 14): never a value the
repository ever held, and a demo user still holding a published one is
given a new password on the next ``seed_demo``."""

from __future__ import annotations

import re
import stat
import subprocess
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from accounts.models import User
from routing.management.commands.seed_demo import DEMO_USERNAME, PUBLISHED_DEMO_PASSWORDS

pytestmark = pytest.mark.django_db
REPOSITORY = Path(__file__).resolve().parents[3]


def _committed_credentials() -> set[str]:
    """Every line any commit added to ``.demo-credentials`` in this checkout's
    history (`git log -p`): the passwords that became public."""
    log = subprocess.run(
        [
            "git",
            "-C",
            str(REPOSITORY),
            "log",
            "--all",
            "-p",
            "--format=",
            "--",
            ".demo-credentials",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {line[1:].strip() for line in log.splitlines() if re.match(r"^\+(?!\+\+)", line)} - {""}


def _seed(tmp_path: Path) -> tuple[User, str, str]:
    out = StringIO()
    call_command("seed_demo", "--host", "127.0.0.1:8000", stdout=out)
    password = (tmp_path / ".demo-credentials").read_text()
    return User.objects.get(username=DEMO_USERNAME), password, out.getvalue()


def test_every_password_the_history_published_is_known() -> None:
    # The list seed_demo refuses holds every value the history published.
    committed = _committed_credentials()
    assert committed, "the history once held .demo-credentials (35d8254)"
    assert committed <= set(PUBLISHED_DEMO_PASSWORDS)


def test_the_demo_password_is_generated_and_never_a_published_one(
    shared_data: Path, tmp_path: Path, settings: Any
) -> None:
    settings.BASE_DIR = tmp_path
    # Act
    user, password, out = _seed(tmp_path)
    # Assert: the file's password works, is printed, is private, and no
    # password the repository ever held is accepted.
    assert user.check_password(password)
    assert f"Demo login: {DEMO_USERNAME} / {password}" in out
    assert stat.S_IMODE((tmp_path / ".demo-credentials").stat().st_mode) == 0o600
    for published in {*PUBLISHED_DEMO_PASSWORDS, *_committed_credentials()}:
        assert password != published
        assert not user.check_password(published)


def test_a_demo_user_holding_the_published_password_gets_a_new_one(
    shared_data: Path, tmp_path: Path, settings: Any
) -> None:
    # Arrange: a machine seeded when the password was in the repository.
    settings.BASE_DIR = tmp_path
    user, _, _ = _seed(tmp_path)
    published = PUBLISHED_DEMO_PASSWORDS[0]
    user.set_password(published)
    user.save()
    (tmp_path / ".demo-credentials").write_text(published)
    # Act
    user, password, out = _seed(tmp_path)
    # Assert
    assert password != published
    assert not user.check_password(published)
    assert user.check_password(password)
    assert f"Demo login: {DEMO_USERNAME} / {password}" in out


def test_a_kept_demo_password_is_not_changed_and_a_stale_file_is_repaired(
    shared_data: Path, tmp_path: Path, settings: Any
) -> None:
    settings.BASE_DIR = tmp_path
    _, first, _ = _seed(tmp_path)
    # Act 1: a second run keeps it.
    _, second, _ = _seed(tmp_path)
    # Assert 1
    assert second == first
    # Act 2: the file lost; the next run sets and prints a working one.
    (tmp_path / ".demo-credentials").unlink()
    user, third, _ = _seed(tmp_path)
    # Assert 2
    assert third != first
    assert user.check_password(third)
    assert not user.check_password(first)
