"""Read an export file as a stream of text lines, a chunk at a time.

The whole file is never in memory (issue 10, defect 9: a 1,000,000-row
upload read whole took 2.1 GB): :func:`read_chunks` reads fixed-size byte
chunks, :func:`decode_lines` decodes them as UTF-8 and cuts them into lines
with their line ends, ready for ``csv.reader``. At most one chunk and one
partial line are held at a time.
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from journal.importers.base import ExportError

CHUNK_BYTES = 64 * 1024
"""Bytes read from the file at a time."""

MAX_LINE_CHARS = 1024 * 1024
"""Longest line accepted (characters). A broker export's rows are a few hundred
characters; a longer line means a file that is not a CSV export, and holding
it whole is what streaming is meant to avoid."""


def read_chunks(file: BinaryIO, name: str, size: int = CHUNK_BYTES) -> Iterator[bytes]:
    """The bytes of ``file`` (opened in binary mode) in chunks of at most ``size``.

    ``name`` is the file name used in errors. Raises :class:`ExportError`
    ``"cannot read file: ..."`` when the read fails.
    """
    while True:
        try:
            chunk = file.read(size)
        except OSError as exc:
            raise ExportError(name, None, None, f"cannot read file: {exc.strerror}") from None
        if not chunk:
            return
        yield chunk


def decode_lines(chunks: Iterable[bytes], name: str) -> Iterator[str]:
    """UTF-8 ``chunks`` as text lines, each with its line end (``\\r\\n``, ``\\n`` or ``\\r``).

    Lines are cut only at those three line ends, as a text file opened with
    ``newline=""`` is, so ``csv.reader`` sees exactly what it would see
    reading the whole text (quoted line breaks included). A character split
    across two chunks is decoded whole. A leading BOM is left to the caller
    (``journal.importers.table`` drops it).

    Raises :class:`ExportError` naming ``name`` for bytes that are not UTF-8
    (``"not UTF-8 text (byte 0xff at offset 1234)"``, the offset counted in
    bytes from the start of the file) and for a line longer than
    :data:`MAX_LINE_CHARS`.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0  # bytes of the file before the current chunk
    lines = 0  # lines handed on so far
    pending = ""  # the start of a line whose end is in a later chunk
    for chunk in chunks:
        # The decoder holds the first bytes of a character cut by the previous
        # chunk; an error's position counts from those bytes.
        held = len(decoder.getstate()[0])
        try:
            text = decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            raise _not_utf8(name, exc, offset - held) from None
        offset += len(chunk)
        pending += text
        start = 0
        for line in io.StringIO(pending, newline=""):
            # The last line may go on in the next chunk: when it has no end,
            # or ends in a "\r" that may be the first half of "\r\n".
            if start + len(line) == len(pending) and not line.endswith("\n"):
                break
            start += len(line)
            lines += 1
            yield line
        pending = pending[start:]
        if len(pending) > MAX_LINE_CHARS:
            raise ExportError(
                name,
                lines + 1,
                None,
                f"line longer than {MAX_LINE_CHARS:,} characters: not a CSV export",
            )
    try:
        pending += decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise _not_utf8(name, exc, offset - len(exc.object)) from None
    if pending:
        yield pending


def _not_utf8(name: str, exc: UnicodeDecodeError, base: int) -> ExportError:
    """``exc`` from decoding bytes that start at file offset ``base``."""
    bad = exc.object[exc.start]
    return ExportError(
        name, None, None, f"not UTF-8 text (byte {bad:#04x} at offset {base + exc.start})"
    )
