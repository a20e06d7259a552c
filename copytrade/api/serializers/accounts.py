"""Broker accounts and logins as the API shows them: never a credential.

A login shows its platform, label, identity (the non-secret user name),
connection state and request budget only; ``secret`` is never read.
"""

from __future__ import annotations

from rest_framework import serializers

from accounts.models import BrokerAccount, BrokerLogin


class BrokerLoginSerializer(serializers.ModelSerializer[BrokerLogin]):
    class Meta:
        model = BrokerLogin
        fields = [
            "id",
            "platform",
            "label",
            "identity",
            "connection_state",
            "connection_since",
            "budget_used",
            "budget_limit",
        ]
        read_only_fields = fields


class BrokerAccountSerializer(serializers.ModelSerializer[BrokerAccount]):
    """Money as decimal strings in the account's ``currency``."""

    login = BrokerLoginSerializer(read_only=True, allow_null=True)

    class Meta:
        model = BrokerAccount
        fields = [
            "id",
            "name",
            "platform",
            "external_id",
            "kind",
            "firm",
            "currency",
            "starting_balance",
            "balance",
            "enabled",
            "login",
            "created_at",
        ]
        read_only_fields = fields
