"""Linux inotify through ctypes: one non-blocking descriptor, folder watches, events read in bulk.

:class:`Inotify` wraps ``inotify_init1(IN_NONBLOCK | IN_CLOEXEC)``, ``inotify_add_watch`` and
``inotify_rm_watch``; :meth:`Inotify.read` returns every queued event as ``(wd, mask, name)``
without waiting.  The descriptor is closed by :meth:`Inotify.close`, or when the object is
collected.  :func:`available` tells whether this platform has inotify at all (Linux, and a libc
that exports it).
"""

from __future__ import annotations

import ctypes
import os
import struct
import sys
import weakref

IN_MODIFY = 0x00000002
IN_ATTRIB = 0x00000004
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_UNMOUNT = 0x00002000
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ONLYDIR = 0x01000000
IN_DONT_FOLLOW = 0x02000000
IN_EXCL_UNLINK = 0x04000000
IN_ISDIR = 0x40000000

#: what a folder watch asks for: its entries' contents and attributes, its listing, itself
FOLDER_EVENTS = (IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE
                 | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_EXCL_UNLINK)
#: events that change a folder's listing
LISTING_EVENTS = IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE

_HEADER = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, len (then len bytes of name)
_READ_SIZE = 1 << 16
#: at most this many reads a call: a writer as fast as the reader must not keep it reading forever
_READS = 16

Event = tuple[int, int, str]  # (wd, mask, name: "" for the watched folder itself)


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        for name in ("inotify_init1", "inotify_add_watch", "inotify_rm_watch"):
            getattr(libc, name)
    except (OSError, AttributeError):
        return None
    libc.inotify_init1.argtypes = [ctypes.c_int]
    libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
    libc.inotify_rm_watch.argtypes = [ctypes.c_int, ctypes.c_int]
    return libc


_LIBC = _libc()


def available() -> bool:
    """Whether this platform has inotify (an instance may still fail to start: see :class:`Inotify`)."""
    return _LIBC is not None


def _error(what: str, path: str | None = None) -> OSError:
    errno = ctypes.get_errno()
    return OSError(errno, f"{what}: {os.strerror(errno)}", path)


class Inotify:
    """One inotify instance; raises :class:`OSError` when it cannot start (no inotify, or the
    ``max_user_instances`` limit: ``EMFILE``)."""

    def __init__(self) -> None:
        if _LIBC is None:
            raise OSError(0, "inotify is not available on this platform")
        fd = _LIBC.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            raise _error("inotify_init1")
        self.fd = fd
        self._close = weakref.finalize(self, os.close, fd)

    @property
    def closed(self) -> bool:
        return not self._close.alive

    def add(self, path: str, mask: int) -> int:
        """Watch a folder; its watch descriptor (the same one again for a folder already watched).

        Raises :class:`OSError`: ``ENOSPC`` at the ``max_user_watches`` limit, ``ENOENT``,
        ``ENOTDIR``, ``EACCES`` for a folder that is gone or cannot be read."""
        assert _LIBC is not None
        wd = _LIBC.inotify_add_watch(self.fd, os.fsencode(path), mask)
        if wd < 0:
            raise _error("inotify_add_watch", path)
        return int(wd)

    def remove(self, wd: int) -> None:
        """Stop watching (nothing happens for a watch the kernel has already dropped)."""
        assert _LIBC is not None
        _LIBC.inotify_rm_watch(self.fd, wd)

    def read(self) -> list[Event]:
        """The events queued now (up to 1 MiB of them: the rest come with the next call); an
        empty list when there is none (never waits)."""
        events: list[Event] = []
        unpack = _HEADER.unpack_from
        size = _HEADER.size
        for _ in range(_READS):
            try:
                data = os.read(self.fd, _READ_SIZE)
            except BlockingIOError:
                return events
            if not data:
                return events
            pos, end = 0, len(data)
            while pos < end:
                wd, mask, _, length = unpack(data, pos)
                pos += size
                name = os.fsdecode(data[pos:pos + length].rstrip(b"\0")) if length else ""
                pos += length
                events.append((wd, mask, name))
            if end < _READ_SIZE - 4096:  # a short read: the queue is empty now
                return events
        return events

    def close(self) -> None:
        self._close()


__all__ = ["FOLDER_EVENTS", "LISTING_EVENTS", "Event", "Inotify", "available"]
