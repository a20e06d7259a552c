"""The default mail backend of an install without a mail server."""

from __future__ import annotations

from django.core.mail import EmailMessage
from django.core.mail.backends import console


class ConsoleEmailBackend(console.EmailBackend):
    """Prints each message to the console as text a person reads and copies.

    Django's console backend prints the MIME form, where a line longer than
    76 characters is quoted-printable and wrapped with ``=`` at the breaks: the
    confirmation and reset links come out cut in two. This prints the
    plain-text body as written, links whole.
    """

    def write_message(self, message: EmailMessage) -> None:
        """Write the envelope, subject and plain-text body, then a rule."""
        self.stream.write(
            f"From: {message.from_email}\n"
            f"To: {', '.join(message.to)}\n"
            f"Subject: {message.subject}\n\n"
            f"{message.body}\n"
        )
        self.stream.write("-" * 79 + "\n")
