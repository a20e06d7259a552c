"""Admin pages whose changes go through the services (issue 14, "Production
security"): every change is journaled with the staff member and a reason,
exactly as a change made on the dashboard is journaled with the trader.

:class:`ServiceAdmin` adds a required ``reason`` field to the change form and
hands the validated changes to :meth:`ServiceAdmin.service_apply`, which calls
the services with the staff member as actor. The services run while the form
validates, inside one savepoint: a refusal (:class:`ApplicationError`) rolls
every one of them back and is shown as a form error, so a refused change
leaves nothing changed and nothing journaled; the admin's own ``save_model``
then writes nothing. Adding and deleting are refused: rows are created and
removed by their owners on the dashboard.

:class:`HistoryAdmin` shows history (journal entries, copy orders, leader
events, fills) without any way to add, change or delete it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.contrib import admin
from django.db import transaction
from django.db.models import Model
from django.http import HttpRequest

from accounts.models import User
from copytrade.core.errors import ApplicationError

REASON_HELP = "Required. Journaled with your name; the owner reads it beside the change."


class ReasonForm(forms.ModelForm):
    """A model form with the written reason every admin change needs."""

    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2, "cols": 80}),
        help_text=REASON_HELP,
    )

    def clean_reason(self) -> str:
        reason: str = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("an admin change needs a written reason")
        return reason


class ServiceAdmin(admin.ModelAdmin):
    """A change form that writes through the services, never ``obj.save()``.

    Subclasses set ``form`` to a :class:`ReasonForm` and implement
    :meth:`service_apply`.
    """

    form = ReasonForm

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # A change form without its service would save nothing: refused at import.
        super().__init_subclass__(**kwargs)
        if "service_apply" not in vars(cls):
            raise TypeError(f"{cls.__name__} must define service_apply")

    if TYPE_CHECKING:

        def service_apply(
            self,
            *,
            request: HttpRequest,
            obj: Any,
            changes: dict[str, Any],
            reason: str,
            actor: User,
        ) -> None:
            """Apply ``changes`` (field name -> new value, only changed
            fields) to ``obj`` (as stored) through the services; raise
            :class:`ApplicationError` to refuse."""

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any):  # type: ignore[no-untyped-def]
        base = super().get_form(request, obj, change=change, **kwargs)
        model_admin = self

        class ServiceForm(base):  # type: ignore[valid-type,misc]
            def clean(self) -> dict[str, Any]:
                data: dict[str, Any] = super().clean()
                if self.errors or self.instance.pk is None:
                    return data
                changes = {
                    name: data[name]
                    for name in self.changed_data
                    if name != "reason" and name in data
                }
                try:
                    # One savepoint: a later refusal undoes an earlier service's change.
                    with transaction.atomic():
                        model_admin.service_apply(
                            request=request,
                            obj=self.instance,
                            changes=changes,
                            reason=data.get("reason", ""),
                            actor=cast(User, request.user),
                        )
                except ApplicationError as exc:
                    field = exc.field if exc.field in self.fields else None
                    self.add_error(field, exc.message)
                return data

        return ServiceForm

    def save_model(self, request: HttpRequest, obj: Model, form: Any, change: bool) -> None:
        # The services wrote the change while the form validated.
        return None

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class HistoryAdmin(admin.ModelAdmin):
    """History, viewable by staff, never added, changed or deleted here."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
