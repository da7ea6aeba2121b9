"""An input's bytes made ready for the line core (``lines.LineSource``), which splits lines on ``\\n`` bytes.

Two kinds of file break that split, and are mended here, once, for every command:

* **UTF-16 and UTF-32.** Their characters are several bytes, one of which may be ``0x0a``, so they cannot
  be split on bytes. A file that starts with their byte-order mark is refused unless the encoding says it
  is one of them (``--encoding utf-16``); then it is recoded to UTF-8 as it is read. Recoding stops at
  the first undecodable sequence, even under ``on_error="skip"``: in a two-byte encoding, a lost byte
  shifts every character after it.
* **Classic Mac OS line ends** (a lone ``\\r``). When the first ``PEEK_BYTES`` hold a ``\\r`` but no
  ``\\n``, every ``\\r``, ``\\r\\n`` and ``\\n`` ends a line, as editors and the csv module read such a file, so
  that rows match the lines a user sees. In a file with ``\\n`` line ends a lone ``\\r`` is text.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from typing import IO

from ..errors import located

Read = Callable[[int], bytes]

PEEK_BYTES = 64 * 1024  # how far to look for a \n before lone \r bytes are taken for line ends
WIDE_CODECS = ("utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be")
_WIDE_BOMS = (  # UTF-32's little-endian mark begins with UTF-16's, so it is tried first
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)


class ByteStream:
    """``read(size)`` gives the input's bytes in ``line_encoding`` with ``\\n`` line ends; ``raw_bytes`` counts
    the bytes taken from the stream (for a progress bar)."""

    def __init__(self, stream: IO[bytes], path: object, encoding: str, block: int):
        self.path = path
        self.raw_bytes = 0
        raw = getattr(stream, "read1", stream.read)  # what a pipe holds, without waiting for a whole block

        def counted(size: int) -> bytes:
            data = raw(size)
            self.raw_bytes += len(data)
            return data

        head, read = _peek(counted, block, 4)
        family = codecs.lookup(encoding).name[:6]
        self.line_encoding = encoding
        marked = next((name for bom, name in _WIDE_BOMS if head.startswith(bom)), None)
        if marked is not None and marked.lower() != family:
            raise located(path, None, f"the file is {marked} (it starts with a {marked} byte-order mark); "
                                      f"pass --encoding {marked.lower()}")
        if codecs.lookup(encoding).name in WIDE_CODECS:
            read, self.line_encoding = self._recoded(read, encoding), "utf-8"
        head, read = _peek(read, block, PEEK_BYTES)
        window = head[:PEEK_BYTES]  # the same bytes whatever the block size, so the same decision
        self.cr_line_ends = b"\n" not in window and b"\r" in window.rstrip(b"\r")  # a last \r may precede \n
        self.read = _cr_to_lf(read) if self.cr_line_ends else read

    def _recoded(self, read: Read, encoding: str) -> Read:
        """``read`` decoded from ``encoding`` and encoded as UTF-8; an undecodable sequence names its line."""
        decoder = codecs.getincrementaldecoder(encoding)()
        lines_before = 0

        def recode(size: int) -> bytes:
            nonlocal lines_before
            while True:
                data = read(size)
                state = decoder.getstate()
                try:
                    out = decoder.decode(data, final=not data).encode("utf-8")
                except UnicodeError as exc:  # also the plain UnicodeError of a UTF-16 file without its mark
                    decoder.setstate(state)
                    line = lines_before + _decodable(decoder, data).count("\n") + 1
                    reason = getattr(exc, "reason", None) or str(exc)
                    raise located(self.path, line, f"cannot decode the bytes as {encoding} ({reason}); "
                                                   "is the file in another encoding?") from None
                lines_before += out.count(b"\n")
                if out or not data:  # a few bytes may decode to nothing yet, which is not the end
                    return out

        return recode


def _peek(read: Read, block: int, limit: int) -> tuple[bytes, Read]:
    """The first ``limit`` bytes (fewer at the end, or up to the first ``\\n``, so that a pipe giving one line
    at a time is not waited on), and a ``read`` that gives them again first."""
    parts: list[bytes] = []
    size = 0
    while size < limit and (more := read(block)):
        parts.append(more)
        size += len(more)
        if b"\n" in more:
            break
    head = b"".join(parts)
    pending = [head] if head else []

    def again(size: int) -> bytes:
        return pending.pop() if pending else read(size)

    return head, again


def _cr_to_lf(read: Read) -> Read:
    """``read`` with every ``\\r\\n`` and lone ``\\r`` made ``\\n``, also where a block boundary splits a pair."""
    after_cr = False

    def translate(size: int) -> bytes:
        nonlocal after_cr
        while block := read(size):
            if after_cr and block.startswith(b"\n"):
                block = block[1:]
            after_cr = block.endswith(b"\r")
            if block:
                return block.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        return b""

    return translate


def _decodable(decoder: codecs.IncrementalDecoder, data: bytes) -> str:
    """The text ``decoder`` gives for ``data`` before the first undecodable byte (found one byte at a time)."""
    text = []
    for at in range(len(data)):
        try:
            text.append(decoder.decode(data[at : at + 1]))
        except UnicodeError:
            break
    return "".join(text)
