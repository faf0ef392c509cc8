"""Atomic file writes: a unique temporary file beside the target, then ``os.replace``.

Readers never see a half-written file, two processes writing the same path never share a
temporary file, and the file gets mode 0666 less the user's umask, like any other file
(``tempfile.mkstemp`` would make it 0600). On failure the temporary file is removed and
the ``OSError`` propagates: the caller decides whether that is an error or a warning.
"""
from __future__ import annotations

import os
import secrets
from contextlib import suppress
from pathlib import Path

__all__ = ["write_text_atomically"]


def write_text_atomically(path: Path, text: str, *, durable: bool = False) -> None:
    """Write ``text`` to ``path`` (UTF-8) atomically; ``durable``: fsync before the replace."""
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        name = f"{path}.{os.getpid()}.{secrets.token_hex(6)}.tmp"
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        tmp = name
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
        tmp = None
    finally:
        if tmp is not None:
            with suppress(OSError):
                os.unlink(tmp)
