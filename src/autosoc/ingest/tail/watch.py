"""The files of a tail source's paths, kept from poll to poll and brought up to date from inotify events.

:class:`WatchedFiles` lists what :func:`autosoc.ingest.files.discover_names` lists for the same paths
(hidden entries skipped, ``include``/``exclude`` globs, symbolic links to files followed, sorted by
path relative to each root), each file with its ``stat``, as ``{file key: (path, stat)}`` with the
first path of a file kept: the ``present`` of :meth:`TailSource.poll`.  It keeps an inotify watch
on every folder it lists, and :meth:`WatchedFiles.update` reads the events queued since the last
call: it lists again only the folders whose listing changed (a file created, deleted, renamed; a
folder made or removed, whose watch is added or dropped), and stats only the files named by an
event.  Each ``(path, stat)`` pair stays the same object while its file is unchanged, and
``update`` says which files changed, so the source looks only at those and at the ones that
still wait for something (see :mod:`autosoc.ingest.tail.source`).

What inotify does not tell is found another way:

* the roots themselves are stat'ed on every update (a root made, removed, replaced, a single
  file that grew): no watch is needed on their parents;
* folders holding a symbolic link (its target may live anywhere) or a file with several hard
  links (it may be written through another name), and folders that could not be watched
  (``max_user_watches`` reached: WARNING once, ``watch_limit``; unreadable), are listed again on
  every update, and those files stat'ed;
* everything is walked again on the first update, after the kernel's queue overflowed
  (``watch_overflow``), and every ``rescan_seconds``: anything else inotify cannot see is found
  then (a network file system; a write through ``mmap``; a write through a hard link made
  outside the watched folders after the file was listed, or whose folder left them before an
  update saw it: the kernel tells a folder's watch only of writes through that folder's names).
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Sequence
from pathlib import Path

from autosoc.ingest.files import _matches
from autosoc.ingest.tail.cursor import file_key
from autosoc.ingest.tail.inotify import (
    FOLDER_EVENTS,
    IN_ATTRIB,
    IN_DELETE_SELF,
    IN_DONT_FOLLOW,
    IN_IGNORED,
    IN_ISDIR,
    IN_MOVE_SELF,
    IN_Q_OVERFLOW,
    IN_UNMOUNT,
    LISTING_EVENTS,
    Inotify,
)

Pair = tuple[str, os.stat_result]


def _same(a: os.stat_result, b: os.stat_result) -> bool:
    """Whether two stats of a file agree on everything a poll looks at."""
    return (a.st_size == b.st_size and a.st_mtime_ns == b.st_mtime_ns and a.st_ino == b.st_ino
            and a.st_dev == b.st_dev and a.st_mode == b.st_mode)


class _File:
    """A listed file: its ``(path, stat)``, key, the inode its folder entry names, and whether its
    events may come elsewhere (a symbolic link, several hard links): then it is stat'ed every time."""

    __slots__ = ("d_ino", "key", "pair", "volatile")

    def __init__(self, pair: Pair, key: str, d_ino: int, volatile: bool) -> None:
        self.pair = pair
        self.key = key
        self.d_ino = d_ino
        self.volatile = volatile


class _Folder:
    """A listed folder: its files and sub-folders, its watch, and the events heard since the last update."""

    __slots__ = ("alive", "d_ino", "dirs", "dirty", "files", "name", "names", "parent", "parts", "path", "polled",
                 "relist", "root", "wd")

    def __init__(self, path: str, parts: tuple[str, ...], parent: _Folder | None, name: str, root: int,
                 d_ino: int) -> None:
        self.path = path
        self.parts = parts
        self.parent = parent
        self.name = name
        self.root = root
        self.d_ino = d_ino
        self.wd: int | None = None
        self.files: dict[str, _File] = {}
        self.dirs: dict[str, _Folder] = {}
        self.names: list[str] = []  # files and folders, sorted: the walk's order
        self.dirty: set[str] = set()  # entries named by an event since the last update
        self.relist = False  # an event changed the listing
        self.polled = False  # listed again on every update (not watched, or holds volatile files)
        self.alive = True


class _Root:
    __slots__ = ("file", "folder", "ident")

    def __init__(self, ident: tuple[int, int, bool], file: _File | None = None, folder: _Folder | None = None) -> None:
        self.ident = ident  # (device, inode, is a folder)
        self.file = file
        self.folder = folder


class WatchedFiles:
    """The files of ``paths`` as the last :meth:`update` found them; see the module docstring.

    Raises :class:`OSError` when inotify cannot start; :meth:`update` raises :class:`OSError` when
    reading the events fails (the caller walks without it then).
    """

    def __init__(self, paths: Sequence[str | Path], *, include: Sequence[str] = (), exclude: Sequence[str] = (),
                 rescan_seconds: float | None = 30.0) -> None:
        self.paths = [Path(p) for p in paths]
        self.include = tuple(include)
        self.exclude = tuple(exclude)
        self.rescan_seconds = rescan_seconds
        self.pid = os.getpid()  # a forked child must not read its parent's events: see TailSource
        self.walks = 0  # full walks done
        #: ``(code, path, message)`` of what an operator should hear of (the caller logs and clears them)
        self.warnings: list[tuple[str, str, str]] = []
        self._first = str(self.paths[0]) if self.paths else ""
        self._notify = Inotify()
        self._roots: list[_Root | None] = [None] * len(self.paths)
        self._wds: dict[int, list[_Folder]] = {}
        self._polled: dict[_Folder, None] = {}  # folders listed again on every update (ordered set)
        self._present: dict[str, Pair] = {}
        self._shared: set[str] = set()  # keys of files listed under more than one path
        self._order: dict[str, int] | None = None
        self._walked_at: float | None = None

    # -- the update ----------------------------------------------------------------------------------

    def update(self, now: float) -> tuple[dict[str, Pair], set[str], list[int]]:
        """``(present, changed, missing)``: the files now, the keys whose pair changed (or went)
        since the last update, and the indexes of the paths that do not exist (or are neither a
        file nor a folder)."""
        events = self._notify.read()
        full = self._walked_at is None or (self.rescan_seconds is not None and not (
            0 <= now - self._walked_at < self.rescan_seconds))
        touched: dict[_Folder, None] = {}
        rebuild: set[int] = set()
        for wd, mask, name in events:
            if mask & IN_Q_OVERFLOW:
                self.warnings.append(("watch_overflow", self._first,
                                      "The inotify event queue overflowed; walking every watched folder again."))
                full = True
                continue
            folders = self._wds.get(wd)
            if folders is None:
                continue
            if mask & IN_IGNORED:  # the watch is gone (folder deleted, file system unmounted)
                del self._wds[wd]
                for folder in folders:
                    folder.wd = None
                    if folder.alive:
                        self._poll_folder(folder, True)
                continue
            if mask & IN_UNMOUNT:
                full = True
                continue
            for folder in folders:
                if not folder.alive:
                    continue
                if not name:  # the folder itself: its mode (what may be read below it), or it moved
                    if mask & (IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF):
                        if folder.parent is None:
                            rebuild.add(folder.root)
                        else:
                            folder.parent.dirty.add(folder.name)
                            folder.parent.relist = True
                            touched[folder.parent] = None
                    continue
                if name.startswith("."):
                    continue
                isdir = mask & IN_ISDIR
                if not isdir and not self._wanted(folder.parts, name):
                    continue
                folder.dirty.add(name)
                if isdir or mask & LISTING_EVENTS:
                    folder.relist = True
                touched[folder] = None
        if full:
            for index in range(len(self.paths)):
                self._root(index, force=True)
            self._walked_at = now
            self.walks += 1
            changed = self._rebuild()
        else:
            structural = False
            changes: list[tuple[Pair, Pair]] = []
            for index in range(len(self.paths)):
                structural |= self._root(index, force=index in rebuild, changes=changes)
            for folder in dict.fromkeys([*touched, *self._polled]):
                if folder.alive:
                    structural |= self._refresh(folder, changes)
            updates: dict[str, Pair] = {}
            if not structural:
                for old, new in changes:
                    key = file_key(new[1])
                    if self._present.get(key) is not old:
                        if key in self._shared:
                            continue  # another name of the file is listed first: it is stat'ed itself
                        structural = True
                        break
                    updates[key] = new
            if structural:
                changed = self._rebuild()
            else:
                self._present.update(updates)  # the same keys, the same order
                changed = set(updates)
        missing = [i for i, root in enumerate(self._roots) if root is None]
        return self._present, changed, missing

    def order(self) -> dict[str, int]:
        """Each present key's place in the walk's order."""
        if self._order is None:
            self._order = {key: i for i, key in enumerate(self._present)}
        return self._order

    def close(self) -> None:
        self._notify.close()

    @property
    def closed(self) -> bool:
        return self._notify.closed

    # -- roots ---------------------------------------------------------------------------------------

    def _root(self, index: int, *, force: bool, changes: list[tuple[Pair, Pair]] | None = None) -> bool:
        """Stat a root and list it again if it is new, changed identity, or ``force``; whether the
        listing changed (a single file that only grew goes to ``changes``)."""
        given = self.paths[index]
        try:
            st: os.stat_result | None = os.stat(given)
        except OSError:
            st = None
        old = self._roots[index]
        text = str(given)
        if st is not None and stat.S_ISREG(st.st_mode):
            ident = (st.st_dev, st.st_ino, False)
            was = old.file if old is not None else None
            if was is not None and _same(was.pair[1], st):
                return False
            pair = (text, st)
            self._roots[index] = _Root(ident, file=_File(pair, file_key(st), st.st_ino, False))
            if old is not None and old.folder is not None:
                self._drop(old.folder)
            if was is not None and changes is not None and was.key == file_key(st):
                changes.append((was.pair, pair))
                return False
            return True
        if st is not None and stat.S_ISDIR(st.st_mode):
            ident = (st.st_dev, st.st_ino, True)
            if not force and old is not None and old.folder is not None and old.ident == ident:
                return False
            before = old.folder if old is not None else None
            folder = self._build(text, (), None, "", index, st.st_ino, before)
            self._roots[index] = _Root(ident, folder=folder)
            if before is not None:
                self._drop(before)
            return True
        self._roots[index] = None
        if old is not None and old.folder is not None:
            self._drop(old.folder)
        return old is not None

    # -- folders -------------------------------------------------------------------------------------

    def _wanted(self, parts: tuple[str, ...], name: str) -> bool:
        if not (self.include or self.exclude):
            return True
        rel = "/".join((*parts, name))
        if self.include and not _matches(self.include, name, rel):
            return False
        return not (self.exclude and _matches(self.exclude, name, rel))

    def _build(self, path: str, parts: tuple[str, ...], parent: _Folder | None, name: str, root: int, d_ino: int,
               before: _Folder | None) -> _Folder:
        """A folder listed anew, watched first (what is created meanwhile is heard of); ``before``
        is what stood there (its unchanged files keep their pairs)."""
        folder = _Folder(path, parts, parent, name, root, d_ino)
        try:
            wd = self._notify.add(path, FOLDER_EVENTS | (IN_DONT_FOLLOW if parent is not None else 0))
        except OSError as exc:
            if exc.errno == errno.ENOSPC:  # told as one warning for the source (the path of its first root)
                self.warnings.append(("watch_limit", self._first, "The inotify watch limit "
                                      "(fs.inotify.max_user_watches) is reached; folders beyond it are walked on "
                                      "every poll."))
        else:
            folder.wd = wd
            self._wds.setdefault(wd, []).append(folder)
        self._list(folder, before, trust=False, changes=[])
        return folder

    def _refresh(self, folder: _Folder, changes: list[tuple[Pair, Pair]]) -> bool:
        """Bring a folder up to date from its events (or list it again when it is polled); whether its
        listing changed."""
        if not (folder.relist or folder.polled):
            for name in folder.dirty:
                entry = folder.files.get(name)
                if entry is None:
                    continue  # not one of ours (not a regular file, or a link that goes nowhere)
                try:
                    st = os.stat(entry.pair[0])
                except OSError:
                    break  # gone since: list the folder
                if not stat.S_ISREG(st.st_mode) or st.st_nlink > 1 or file_key(st) != entry.key:
                    break
                if not _same(entry.pair[1], st):
                    pair = (entry.pair[0], st)
                    changes.append((entry.pair, pair))
                    folder.files[name] = _File(pair, entry.key, entry.d_ino, False)
            else:
                folder.dirty.clear()
                return False
        return self._list(folder, folder, trust=folder.wd is not None, changes=changes)

    def _list(self, folder: _Folder, before: _Folder | None, *, trust: bool,
              changes: list[tuple[Pair, Pair]]) -> bool:
        """Read a folder's entries (as ``autosoc.ingest.files._walk`` does) into it; sub-folders new
        or replaced are built; whether the listing changed.

        ``trust``: an entry of ``before`` that no event named keeps its pair without a stat; else
        every file is stat'ed (and keeps its pair when the stat agrees)."""
        try:
            with os.scandir(folder.path) as it:
                entries = list(it)
        except OSError:
            entries = []  # vanished or unreadable: as the walk, nothing in it
        old_files = before.files if before is not None else {}
        old_dirs = before.dirs if before is not None else {}
        dirty = folder.dirty
        files: dict[str, _File] = {}
        dirs: dict[str, _Folder] = {}
        volatile = False
        structural = before is not folder
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue
            link = False
            try:
                if entry.is_dir(follow_symlinks=False):
                    sub = old_dirs.get(name)
                    ino = entry.inode()
                    if trust and sub is not None and sub.alive and sub.d_ino == ino and name not in dirty:
                        dirs[name] = sub
                    else:
                        dirs[name] = self._build(entry.path, (*folder.parts, name), folder, name, folder.root, ino,
                                                 sub)
                        structural = True
                    continue
                if not self._wanted(folder.parts, name):
                    continue
                link = entry.is_symlink()
                was = old_files.get(name)
                ino = entry.inode()
                if (trust and was is not None and not was.volatile and not link and was.d_ino == ino
                        and name not in dirty):
                    files[name] = was
                    continue
                info = entry.stat(follow_symlinks=True)
            except OSError:
                volatile = volatile or link  # a link that goes nowhere, yet
                continue
            volatile = volatile or link
            if not stat.S_ISREG(info.st_mode):
                continue
            several = info.st_nlink > 1
            volatile = volatile or several
            if was is not None and was.pair[0] == entry.path and _same(was.pair[1], info):
                files[name] = was if was.volatile == (link or several) else _File(was.pair, was.key, ino,
                                                                                   link or several)
                continue
            key = file_key(info)
            files[name] = _File((entry.path, info), key, ino, link or several)
            if was is None or was.key != key:
                structural = True
            elif before is folder:
                changes.append((was.pair, files[name].pair))
        for name, sub in old_dirs.items():
            if dirs.get(name) is not sub:
                self._drop(sub)
        if files.keys() != old_files.keys() or dirs.keys() != old_dirs.keys():
            structural = True
        if structural or not folder.names:
            folder.names = sorted([*files, *dirs])
        folder.files, folder.dirs = files, dirs
        folder.dirty = set()
        folder.relist = False
        self._poll_folder(folder, folder.wd is None or volatile)
        return structural

    def _poll_folder(self, folder: _Folder, polled: bool) -> None:
        folder.polled = polled
        if polled:
            self._polled[folder] = None
        else:
            self._polled.pop(folder, None)

    def _drop(self, folder: _Folder) -> None:
        """Forget a folder and what is below it; unwatch it unless another listed folder is the same one."""
        if not folder.alive:
            return
        folder.alive = False
        self._polled.pop(folder, None)
        if folder.wd is not None:
            folders = self._wds.get(folder.wd)
            if folders is not None:
                folders.remove(folder)
                if not folders:
                    del self._wds[folder.wd]
                    self._notify.remove(folder.wd)
        for sub in folder.dirs.values():
            self._drop(sub)

    # -- present ------------------------------------------------------------------------------------

    def _rebuild(self) -> set[str]:
        """``present`` from the listing, in the walk's order; the keys whose pair changed or went."""
        old = self._present
        new: dict[str, Pair] = {}
        shared: set[str] = set()
        for root in self._roots:
            if root is None:
                continue
            if root.file is not None:
                if new.setdefault(root.file.key, root.file.pair) is not root.file.pair:
                    shared.add(root.file.key)
            elif root.folder is not None:
                _flatten(root.folder, new, shared)
        if shared:
            self._share(shared, new)
        self._shared = shared
        changed = {key for key, pair in new.items() if old.get(key) is not pair}
        changed.update(old.keys() - new.keys())
        self._present = new
        self._order = None
        return changed

    def _share(self, keys: set[str], present: dict[str, Pair]) -> None:
        """Files listed under several paths: when these are several names (hard links, a link and
        its target), not one name reached twice (nested roots), a write through one name is heard
        of in its folder only, so every name is stat'ed now and on every update."""
        names: dict[str, list[tuple[_Folder | None, _File]]] = {key: [] for key in keys}
        for root in self._roots:
            if root is not None and root.file is not None and root.file.key in names:
                names[root.file.key].append((None, root.file))
            elif root is not None and root.folder is not None:
                _collect(root.folder, names)
        for group in names.values():
            places = {os.path.join(os.path.realpath(os.path.dirname(e.pair[0])), os.path.basename(e.pair[0]))
                      for _, e in group}
            if len(places) < 2:
                continue
            for folder, entry in group:
                if folder is None:
                    continue  # a root: stat'ed on every update
                if not entry.volatile:
                    entry.volatile = True
                    self._poll_folder(folder, True)
                was = entry.pair
                try:
                    st = os.stat(was[0])
                except OSError:
                    continue  # gone: the next update lists its folder again
                if stat.S_ISREG(st.st_mode) and file_key(st) == entry.key and not _same(was[1], st):
                    entry.pair = (was[0], st)
                    if present.get(entry.key) is was:
                        present[entry.key] = entry.pair


def _flatten(folder: _Folder, out: dict[str, Pair], shared: set[str]) -> None:
    files, dirs = folder.files, folder.dirs
    for name in folder.names:
        sub = dirs.get(name)
        if sub is not None:
            _flatten(sub, out, shared)
        else:
            entry = files[name]
            if out.setdefault(entry.key, entry.pair) is not entry.pair:
                shared.add(entry.key)


def _collect(folder: _Folder, names: dict[str, list[tuple[_Folder | None, _File]]]) -> None:
    for entry in folder.files.values():
        group = names.get(entry.key)
        if group is not None:
            group.append((folder, entry))
    for sub in folder.dirs.values():
        _collect(sub, names)


__all__ = ["Pair", "WatchedFiles"]
