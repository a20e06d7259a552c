"""Receiving an uploaded export within ``UPLOAD_MAX_BYTES`` (issue 10, defect 9).

:class:`CappedUploadHandler` spools the file to a temporary file as it
arrives and stops keeping it once it passes the cap: the rest is counted and
dropped, so an oversize upload never fills the disk or memory, and the form
still learns its name and size (:class:`OversizeUpload`) to refuse it by name.
"""

from __future__ import annotations

import io
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.http import HttpRequest


def format_bytes(size: int) -> str:
    """A byte count for people: ``"812 bytes"``, ``"1,000 bytes"``, ``"20.0 MB"`` (MB = 2**20)."""
    if size < 1024 * 1024:
        return f"{size:,} bytes"
    return f"{size / (1024 * 1024):,.1f} MB"


def upload_size_problem(name: str, size: int, max_bytes: int) -> str | None:
    """Why a file of ``size`` bytes is refused (naming it, its size and the cap), or ``None``."""
    if size <= max_bytes:
        return None
    return (
        f"{name} is {format_bytes(size)}; the upload cap is {format_bytes(max_bytes)} "
        "(UPLOAD_MAX_BYTES). Nothing was imported."
    )


class OversizeUpload(UploadedFile):
    """An uploaded file that passed the cap: its name and full ``size`` in
    bytes, no content (nothing of it was kept)."""

    def __init__(self, name: str, size: int, content_type: str | None) -> None:
        super().__init__(io.BytesIO(), name, content_type, size)


class CappedUploadHandler(TemporaryFileUploadHandler):
    """Spool each uploaded file to a temporary file, up to ``max_bytes`` bytes.

    A file that passes the cap has its temporary file closed (deleted) at
    that point; its later bytes are counted and dropped, and the request's
    ``FILES`` gets an :class:`OversizeUpload` carrying its name and size.
    Install it before anything reads the request body (the view is
    ``csrf_exempt`` and protects itself after setting the handler).
    """

    def __init__(self, request: HttpRequest, *, max_bytes: int) -> None:
        super().__init__(request)
        self.max_bytes = max_bytes
        self.received = 0
        self.over = False

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.received = 0
        self.over = False

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        if self.over:
            return None
        if self.received > self.max_bytes:
            self.over = True
            self.file.close()  # a temporary file: closing deletes it
            return None
        return super().receive_data_chunk(raw_data, start)

    def file_complete(self, file_size: int) -> UploadedFile | None:
        if self.over:
            return OversizeUpload(self.file_name or "", self.received, self.content_type)
        return super().file_complete(file_size)
