"""Post an admin change form as a browser would: every field with the value
the page shows, then the test's changes on top."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

from django.test import Client


class _ChangeForm(HTMLParser):
    """The named inputs, selects and textareas of the page's change form."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, str] = {}
        self._select: str | None = None
        self._textarea: str | None = None
        self._in_form = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("id", "").endswith("_form"):
            self._in_form = True
        if not self._in_form:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text")
            if kind in ("submit", "button", "file"):
                return
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.data[name] = a.get("value", "on")
                return
            self.data[name] = a.get("value", "")
        elif tag == "select" and name:
            self._select = name
            self.data.setdefault(name, "")
        elif tag == "option" and self._select and "selected" in a:
            self.data[self._select] = a.get("value", "")
        elif tag == "textarea" and name:
            self._textarea = name
            self.data[name] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "form":
            self._in_form = False

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.data[self._textarea] += (
                data.lstrip("\n") if not self.data[self._textarea] else data
            )


def change_form_post(client: Client, url: str, **changes: Any) -> Any:
    """GET the admin change page at ``url``, then POST its form with ``changes``."""
    page = client.get(url)
    assert page.status_code == 200, page.status_code
    parser = _ChangeForm()
    parser.feed(page.text)
    data = {**parser.data, **{k: str(v) for k, v in changes.items() if v is not None}}
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)
    return client.post(url, data)
