"""Opening an input file with its limits checked before a byte is read: its kind (a regular file;
never a FIFO, whose open would wait for a writer, a device such as /dev/zero, which never ends, a
socket or a folder) and its size. Every refusal is one positioned diagnostic."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

from engine.model.diagnostics import Diagnostic, InputError

_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def kind(mode: int) -> str:
    """'a folder', 'a FIFO (named pipe)', ... for a stat mode that is not a regular file's."""
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def refuse(path, code: str, message: str) -> InputError:
    return InputError([Diagnostic(str(path), 1, 1, code, message)])


def stat_input(path: str | Path, code: str) -> os.stat_result:
    """The file's status (symbolic links followed), or one diagnostic when it cannot be had."""
    try:
        return os.stat(path)
    except OSError as exc:
        raise refuse(path, code, f"cannot read file: {exc.strerror or exc}") from None
    except ValueError as exc:  # a NUL byte in the path
        raise refuse(path, code, f"cannot read file: {exc}") from None


def open_regular(path: str | Path, code: str = "Y000", max_bytes: int | None = None, size_code: str = "Y001") -> BinaryIO:
    """Open a regular file for reading, refusing anything else and (with `max_bytes`) a file larger
    than that, before reading. The kind is checked on the path first (so a device is never even
    opened: opening some has effects) and again on what was opened (the path may have changed in
    between); the open itself never blocks (O_NONBLOCK: a FIFO put there meanwhile)."""
    st = stat_input(path, code)
    if not stat.S_ISREG(st.st_mode):
        raise refuse(path, code, f"cannot read file: it is {kind(st.st_mode)}, not a regular file")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise refuse(path, code, f"cannot read file: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise refuse(path, code, f"cannot read file: it is {kind(st.st_mode)}, not a regular file")
        if max_bytes is not None and st.st_size > max_bytes:
            raise refuse(path, size_code, f"file larger than {max_bytes} bytes")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bounded(path: str | Path, max_bytes: int, code: str = "Y000", size_code: str = "Y001") -> bytes:
    """The bytes of a regular file of at most `max_bytes` (checked before reading, and while reading:
    a file that grows past the cap is refused, not read whole)."""
    with open_regular(path, code, max_bytes, size_code) as f:
        try:
            raw = f.read(max_bytes + 1)
        except OSError as exc:
            raise refuse(path, code, f"cannot read file: {exc.strerror or exc}") from None
    if len(raw) > max_bytes:
        raise refuse(path, size_code, f"file larger than {max_bytes} bytes")
    return raw
