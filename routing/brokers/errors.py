"""Errors raised by broker adapters.

Adapters translate every vendor/SDK error into one of these with
``raise ... from exc`` so callers decide on retry by class alone, never by
parsing vendor messages. The split follows Healthchecks'
``TransportError(permanent=...)`` and Freqtrade's exception tree.
"""

from __future__ import annotations


class BrokerError(Exception):
    """Base of all broker adapter errors.

    Catch this only to fail closed around a whole adapter call (journal the
    message, send nothing more for that order); use the subclasses to choose
    between retry, give up and disable.
    """


class BrokerTemporaryError(BrokerError):
    """A transient failure: network, timeout, rate limit, not connected yet.

    Callers retry with backoff. Around ``place_order`` the order may or may not
    have reached the broker: before sending anything again the caller asks
    ``query_order`` for the same ``client_order_id`` and only resends (with
    that same id, which the adapter de-duplicates) when the broker has no
    record of it.
    """


class BrokerRejected(BrokerError):
    """Final: the broker refused the request; ``reason`` says why, verbatim.

    Callers do not retry the same request; they journal ``reason`` and mark
    the order rejected (for an entry, the engine quarantines the symbol).
    ``place_order`` and ``flatten`` report refusals as ``OrderResult`` values
    with status ``REJECTED`` (``modify_order`` as the unchanged order's result
    with a ``reason``) instead of raising this; it is raised by operations
    that have no result value to carry the refusal.
    """

    def __init__(self, reason: str, *, client_order_id: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.client_order_id = client_order_id


class BrokerFatal(BrokerError):
    """The adapter is unusable: bad credentials, account closed, protocol broken.

    Callers stop using the adapter for that account, disable the affected
    followers (fail closed) and alert; no retry until an operator acts.
    """
