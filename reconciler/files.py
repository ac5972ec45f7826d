"""Writing files so that a crash leaves the old file or the new one, never half."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path

# Read once, at import, before any thread starts: os.umask can only be read by setting it.
_UMASK = os.umask(0)
os.umask(_UMASK)


def write_text_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text`: a crash leaves the old file or the new one, never half.

    The text goes to a temporary file in the same directory, is fsynced, then
    renamed over the target. A symbolic link is followed: the file it names is
    replaced and the link kept (`-o /dev/stdout` redirected to a file). A character
    device or a pipe (`-o /dev/null`, `-o /dev/stdout` on a terminal or a pipe) is
    written to, never replaced: renaming over it would swap the device for a plain
    file, for every process of the machine when run as root. Anything else that is
    not a regular file (a block device, a socket) is refused (OSError).
    """
    try:
        kind: int | None = os.stat(path).st_mode
    except FileNotFoundError:
        kind = None
    if kind is not None and (stat.S_ISCHR(kind) or stat.S_ISFIFO(kind)):
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        return
    if kind is not None and not (stat.S_ISREG(kind) or stat.S_ISDIR(kind)):
        # A directory fails at the rename below, as it always has ("Is a directory").
        raise OSError(errno.EINVAL, "not a file, a pipe or a character device")
    path = Path(os.path.realpath(path))
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp makes the file private: keep the permissions the file had, or give a
        # new one those open() would (0666 less the umask).
        try:
            mode = os.stat(path).st_mode & 0o7777
        except FileNotFoundError:
            mode = 0o666 & ~_UMASK
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; not every platform can open a directory.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class NotRegularFileError(OSError):
    """The path is a device, a FIFO, a socket or a directory, not a regular file."""


class FileTooLargeError(OSError):
    """The file is larger than the limit the caller gave."""


def read_regular_file(path: str, limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes.

    A path from a pull request or an artifact may be a symlink to /dev/zero or
    a FIFO: it is opened without blocking, refused unless it is a regular file,
    and never read past the limit, whatever its size claims.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as handle:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFileError(f"{path} is not a regular file")
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise FileTooLargeError(f"{path} is larger than {limit} bytes")
    return data
