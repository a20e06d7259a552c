"""What the Content Security Policy tests share: the policy read from a
response's header, and the markup a strict policy would refuse.

Used by tests/test_csp_pages.py (every page, through the test client) and
tests/test_browser_csp.py (Chromium's own verdict).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

# Script types a browser runs; any other type (application/json from
# json_script, allauth's data blocks) is a data block, never executed, so
# script-src does not apply to it (HTML spec, "prepare the script element").
EXECUTABLE_TYPES = {
    "",
    "module",
    "text/javascript",
    "application/javascript",
    "text/ecmascript",
    "application/ecmascript",
}


def policy_of(header: str) -> dict[str, list[str]]:
    """``"default-src 'self'; img-src 'self' data:"`` as
    ``{"default-src": ["'self'"], "img-src": ["'self'", "data:"]}``."""
    policy: dict[str, list[str]] = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            policy[words[0].lower()] = words[1:]
    return policy


def nonce_of(policy: dict[str, list[str]]) -> str | None:
    """The nonce script-src allows (``'nonce-abc'`` gives ``"abc"``), or ``None``."""
    for source in policy.get("script-src", []):
        match = re.fullmatch(r"'nonce-([^']+)'", source)
        if match:
            return match.group(1)
    return None


class Markup(HTMLParser):
    """A page's markup as a strict policy sees it: :attr:`problems` lists
    each inline script without ``nonce``, each nonce other than ``nonce``,
    each event-handler or ``style`` attribute and ``javascript:`` URL;
    :attr:`nonces_seen` counts the elements carrying ``nonce``."""

    def __init__(self, nonce: str | None) -> None:
        super().__init__(convert_charrefs=True)
        self.nonce = nonce
        self.problems: list[str] = []
        self.nonces_seen = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        where = f"<{tag} {' '.join(f'{n}={v!r}' for n, v in attrs)[:160]}>"
        for name, value in values.items():
            if name.startswith("on"):
                self.problems.append(f"event handler attribute {name}= in {where}")
            if name == "style":
                self.problems.append(f"inline style attribute in {where}")
            if name in ("href", "src", "action", "formaction") and value.strip().lower().startswith(
                "javascript:"
            ):
                self.problems.append(f"javascript: URL in {where}")
        if "nonce" in values:
            self.nonces_seen += 1
            if self.nonce is None or values["nonce"] != self.nonce:
                self.problems.append(f"nonce other than the header's in {where}")
        if tag == "script" and "src" not in values:
            executable = values.get("type", "").strip().lower() in EXECUTABLE_TYPES
            if executable and (self.nonce is None or values.get("nonce") != self.nonce):
                self.problems.append(f"inline script without this request's nonce: {where}")


def markup_problems(html: str, nonce: str | None) -> Markup:
    """``html`` read by :class:`Markup` against the header's ``nonce``."""
    markup = Markup(nonce)
    markup.feed(html)
    markup.close()
    return markup
