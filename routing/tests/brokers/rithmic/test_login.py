"""Rithmic logins against the fake server: accounts, a bad password, states."""

from __future__ import annotations

import logging

import pytest

from routing.brokers.errors import BrokerFatal, BrokerTemporaryError
from routing.brokers.logins import ConnectionState
from routing.brokers.rithmic import RithmicAdapter
from routing.tests.brokers.rithmic.conftest import PASSWORD, adapter_for, login
from routing.tests.brokers.rithmic.fake_server import FakeRithmic


@pytest.mark.asyncio
async def test_login_when_credentials_good_then_connected_with_its_accounts(
    adapter: RithmicAdapter, fake: FakeRithmic
) -> None:
    # Assert: logged in on the order and PnL plants, accounts from the account list.
    [state] = adapter.login_states()
    assert state.state is ConnectionState.CONNECTED
    assert adapter.connected
    assert sorted(fake.logins) == [("trader", 2), ("trader", 4)]
    assert adapter._sessions[1].accounts == {"ACC-1", "ACC-2", "ACC-3"}
    assert adapter.account_connected("ACC-2")
    assert not adapter.account_connected("OTHER")
    with pytest.raises(BrokerFatal, match="OTHER"):
        await adapter.positions("OTHER")


@pytest.mark.asyncio
async def test_login_when_password_bad_then_failed_and_accounts_fatal(
    fake: FakeRithmic, caplog: pytest.LogCaptureFixture
) -> None:
    # Arrange
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="rithmic")  # the SDK's own logger, INFO by default
    wrong = "wrong-" + PASSWORD
    broker = adapter_for(
        fake,
        login(fake, password=wrong),
        login(fake, login_id=2, user="lead", accounts=("LEAD-1",)),
    )
    # Act
    await broker.connect()
    try:
        # Assert: the bad login failed with Rithmic's reason; the other is up.
        bad, good = broker.login_states()
        assert bad.state is ConnectionState.FAILED
        assert "permission denied" in bad.detail
        assert good.state is ConnectionState.CONNECTED
        with pytest.raises(BrokerFatal, match="failed"):
            await broker.positions("ACC-1")
        assert broker.account_connected("LEAD-1")
        # No credential in any log line, the SDK's debug dumps included.
        sdk_lines = [r.getMessage() for r in caplog.records if r.name.startswith("rithmic.")]
        assert any("RequestLogin" in line or "'user'" in line for line in sdk_lines)
        assert any("***" in line for line in sdk_lines)
        assert all(
            wrong not in r.getMessage() and PASSWORD not in r.getMessage() for r in caplog.records
        )
    finally:
        await broker.disconnect()


@pytest.mark.asyncio
async def test_server_unreachable_then_down_and_requests_temporary(fake: FakeRithmic) -> None:
    # Arrange: the server is gone.
    config = login(fake)
    await fake.stop()
    broker = adapter_for(fake, config)
    # Act
    await broker.connect()
    try:
        # Assert
        [state] = broker.login_states()
        assert state.state is ConnectionState.DOWN
        assert "cannot reach Rithmic" in state.detail
        with pytest.raises(BrokerTemporaryError, match="down"):
            await broker.positions("ACC-1")
    finally:
        await broker.disconnect()


@pytest.mark.asyncio
async def test_login_when_credentials_incomplete_then_failed_and_others_served(
    fake: FakeRithmic,
) -> None:
    # Arrange: login 1 has no system name.
    bad = login(fake)
    bad = type(bad)(
        login_id=1,
        platform="rithmic",
        environment=bad.environment,
        credentials={"username": "trader", "password": PASSWORD},
        accounts=bad.accounts,
        endpoint=bad.endpoint,
    )
    broker = adapter_for(fake, bad, login(fake, login_id=2, user="lead", accounts=("LEAD-1",)))
    # Act
    await broker.connect()
    try:
        # Assert
        first, second = broker.login_states()
        assert (first.state, first.detail) == (ConnectionState.FAILED, "credentials lack system")
        assert second.state is ConnectionState.CONNECTED
        assert PASSWORD not in repr(bad)
    finally:
        await broker.disconnect()
