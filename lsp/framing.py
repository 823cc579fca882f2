"""Read LSP messages from stdin, and find the next one again when a client's framing lies.

pygls's loop (``pygls.io_.run_async``) reads ``Content-Length: N``, a blank line, then exactly N
bytes. When N is wrong it reads into the next message, or waits for bytes that never come; after
that every header is glued to the end of the previous body, never matches again, and the server
stays alive and silent. ``FramedStdin`` stands in for stdin: it parses the raw stream itself and
gives pygls one well-formed frame per message, so pygls's loop and its handlers stay as they are.
A body that is not JSON is still handed on: pygls fails to parse it and the server answers
-32700 (``CodeFusionServer.report_server_error``).

Recovery rests on one fact: JSON allows no raw CR or LF inside a string, so ``Content-Length: N``
followed by a line break inside a body can only be the header of the next message.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import re
import threading
from typing import BinaryIO

log = logging.getLogger("codefusion.lsp")

# No byte for this long in the middle of a body that is already JSON: the length said too much.
STALL_S = 0.5
# No byte for this long in the middle of anything else: give up on the rest (a client that slow is
# stuck; answering -32700 beats waiting with it forever).
GIVE_UP_S = 3.0
# Once a length proved wrong, bytes still arriving this soon belong to the same write.
GRACE_S = 0.05

_LENGTH = re.compile(rb"content-length[ \t]*:[ \t]*(\d+)[ \t]*", re.IGNORECASE)
_GLUED_LENGTH = re.compile(rb"content-length[ \t]*:[ \t]*(\d+)[ \t]*$", re.IGNORECASE)
_NEXT_HEADER = re.compile(rb"content-length[ \t]*:[ \t]*\d+[ \t]*\r?\n", re.IGNORECASE)
_OTHER_HEADER = re.compile(rb"[A-Za-z][A-Za-z0-9-]*[ \t]*:")


def repair_utf8(data: bytes) -> bytes:
    """Invalid UTF-8 as U+FFFD, so such a message is still answered (pygls would drop it)."""
    try:
        data.decode("utf-8")
        return data
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="replace").encode("utf-8")


def is_json(data: bytes) -> bool:
    try:
        json.loads(repair_utf8(data))
        return True
    except ValueError:
        return False


class FramedStdin:
    """stdin for pygls's ``start_io``: ``readline`` and ``read`` give back well-formed frames."""

    def __init__(self, raw: BinaryIO):
        self._chunks: queue.Queue[bytes] = queue.Queue()
        self._buf = bytearray()
        self._ended = False
        self._frame: list[bytes] = []
        # A thread of its own, so that waiting for bytes can time out (a pipe's read cannot).
        threading.Thread(target=self._pump, args=(raw,), daemon=True, name="codefusion-stdin").start()

    # -- what pygls calls -------------------------------------------------------------------

    def readline(self) -> bytes:
        if not self._frame:
            body = self._next_body()
            if body is None:
                return b""  # end of the stream: pygls's loop ends
            self._frame = [b"Content-Length: %d\r\n" % len(body), b"\r\n", body]
        return self._frame.pop(0)

    def read(self, n: int) -> bytes:
        return self._frame.pop(0) if self._frame else b""

    def close(self) -> None:
        """End the stream here, as if the client had closed it (Ctrl-C on `cf lsp`): pygls's loop
        ends, and its reader thread is no longer blocked, so its thread pool can shut down."""
        self._chunks.put(b"")

    # -- the raw stream ---------------------------------------------------------------------

    def _pump(self, raw: BinaryIO) -> None:
        try:
            # os.read, not the buffered file: a daemon thread blocked inside a buffered read makes
            # the interpreter abort at exit (it cannot take the buffer's lock).
            fd = raw.fileno()
            read = lambda n: os.read(fd, n)  # noqa: E731
        except (AttributeError, OSError, ValueError):  # not a real file (tests, wrappers)
            read = getattr(raw, "read1", None) or raw.read
        try:
            while chunk := read(65536):
                self._chunks.put(chunk)
        except (OSError, ValueError) as e:
            log.warning("stdin: %s", e)
        finally:
            self._chunks.put(b"")

    def _more(self, timeout: float | None = None) -> bool:
        """Wait for more bytes: False at the end of the stream or after ``timeout`` seconds."""
        if self._ended:
            return False
        try:
            chunk = self._chunks.get(timeout=timeout)
        except queue.Empty:
            return False
        if not chunk:
            self._ended = True
            return False
        self._buf += chunk
        return True

    def _take(self, n: int) -> bytes:
        data = bytes(self._buf[:n])
        del self._buf[:n]
        return data

    def _line(self) -> bytes | None:
        """The next line (through LF); bytes that stop coming without one count as a line."""
        while (end := self._buf.find(b"\n")) < 0:
            if not self._more(GIVE_UP_S if self._buf else None) and (self._buf or self._ended):
                return self._take(len(self._buf)) or None
        return self._take(end + 1)

    def _fill(self, n: int) -> bool:
        """Wait until n bytes are buffered: False when the stream ends or stalls first."""
        stalled = 0.0
        while len(self._buf) < n:
            if self._more(STALL_S):
                stalled = 0.0
                continue
            if self._ended:
                return False
            stalled += STALL_S
            if stalled >= GIVE_UP_S or is_json(self._buf):
                return False
        return True

    # -- messages ---------------------------------------------------------------------------

    def _next_body(self) -> bytes | None:
        length, bad = None, False
        while True:
            line = self._line()
            if line is None:
                return None
            text = line.rstrip(b"\r\n")
            if not text.strip():
                if length is not None or bad:
                    break  # the end of the headers
                continue  # a stray blank line between messages
            if (m := _LENGTH.fullmatch(text)) is not None:
                length = int(m[1])
            elif (m := _GLUED_LENGTH.search(text)) is not None:
                # The tail of a body whose length lied, glued to the next header: resynchronise.
                log.warning("framing: dropped %d bytes before a header: %r", m.start(), text[:m.start()][:80])
                length = int(m[1])
            elif text.lower().startswith(b"content-length"):
                log.warning("framing: bad header %r", text[:80])
                bad = True
            elif _OTHER_HEADER.match(text):
                continue  # Content-Type, or a header we do not know
            elif length is not None or bad:
                self._buf[:0] = line  # the body came without the blank line
                break
            else:
                log.warning("framing: dropped %d bytes between messages: %r", len(line), line[:80])
        body = self._body(length)
        return body or b" "  # pygls takes an empty body for no body: a space still gets -32700

    def _body(self, length: int | None) -> bytes:
        if length is not None and self._fill(length) and (is_json(self._buf[:length]) or self._ends_at(length)):
            return repair_utf8(self._take(length))
        # No length, or a wrong one: the body ends where the next header starts, else where the
        # bytes stop.
        while self._more(GRACE_S):
            pass
        found = _NEXT_HEADER.search(self._buf)
        end = found.start() if found else len(self._buf)
        if length is None:
            log.warning("framing: no usable Content-Length; the body was %d bytes", end)
        else:
            log.warning("framing: Content-Length %d, but the body was %d bytes", length, end)
        return repair_utf8(self._take(end))

    def _ends_at(self, n: int) -> bool:
        """Whether a message may end at n: nothing follows it yet, or the next header does."""
        if len(self._buf) == n:
            self._more(GRACE_S)
        rest = bytes(self._buf[n:]).lstrip(b"\r\n")
        return not rest or _NEXT_HEADER.match(rest) is not None
