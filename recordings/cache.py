"""The local copies of recordings (those converted for the browser, and the downloads of a
bucket's recordings) pruned by age and by total size, least recently used first, never one
being served. The choice is pure (:func:`choose`); :func:`prune` reads the folders, asks it,
and deletes.

A copy is "used" when it was last written or served: the endpoints touch it (its folder,
for a bucket's copy) each time they serve it; copies younger than ``GRACE_SECONDS`` (one
being written now) are never chosen. An endpoint registers a file before it checks that it
is there (:meth:`ServingFiles.acquire`), and the pruner checks and deletes under the same
lock: a file is never deleted under a response, and one deleted just before is made again."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

GRACE_SECONDS = 60.0


class ServingFiles:
    """The files being sent now (a response under way), counted: shared by the endpoints
    (on the event loop) and the pruner (in a worker thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._paths: Counter[Path] = Counter()

    def acquire(self, path: Path) -> Callable[[], None]:
        """``path`` is being served until the returned function is called (once)."""
        key = Path(os.path.abspath(path))
        with self._lock:
            self._paths[key] += 1
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            with self._lock:
                self._paths[key] -= 1
                if self._paths[key] <= 0:
                    del self._paths[key]

        return release

    @contextlib.contextmanager
    def serving(self, path: Path) -> Iterator[None]:
        release = self.acquire(path)
        try:
            yield
        finally:
            release()

    def _busy(self, key: Path) -> bool:
        return any(p == key or p.is_relative_to(key) for p in self._paths)

    def busy(self, entry: Path) -> bool:
        """Whether ``entry`` (a file, or a folder of files) holds a file being served."""
        key = Path(os.path.abspath(entry))
        with self._lock:
            return self._busy(key)

    def remove_unless_busy(self, entry: Path) -> bool:
        """Delete ``entry`` unless it holds a file being served; checked and deleted under
        the lock, so nothing starts being served from it in between. Whether it went."""
        key = Path(os.path.abspath(entry))
        with self._lock:
            if self._busy(key):
                return False
            if entry.is_dir():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            return True


@dataclass(frozen=True, slots=True)
class Entry:
    path: Path  # a copy (a file), or a folder holding one
    size: int
    used_at: float  # Unix time


def choose(
    entries: Iterable[Entry],
    *,
    now: float,
    max_bytes: int,
    max_age: float,
    busy: frozenset[Path] | set[Path] = frozenset(),
) -> list[Entry]:
    """The entries to delete: every one unused for ``max_age`` seconds, then the least
    recently used until the rest fits in ``max_bytes``. Busy ones and those used in the last
    ``GRACE_SECONDS`` are kept (and still count towards the size)."""
    kept: list[Entry] = []
    out: list[Entry] = []
    for entry in sorted(entries, key=lambda e: e.used_at):
        spared = entry.path in busy or now - entry.used_at < GRACE_SECONDS
        if not spared and now - entry.used_at >= max_age:
            out.append(entry)
        else:
            kept.append(entry)
    total = sum(e.size for e in kept)
    for entry in list(kept):  # oldest first
        if total <= max_bytes:
            break
        if entry.path in busy or now - entry.used_at < GRACE_SECONDS:
            continue
        out.append(entry)
        total -= entry.size
    return out


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def entries(browser_copies: Path, bucket_copies: Path) -> list[Entry]:
    """The copies kept now: the converted files, and the bucket's version folders."""
    found: list[Entry] = []
    candidates: list[Path] = []
    if browser_copies.is_dir():
        candidates += [p for p in browser_copies.iterdir() if p.is_file()]
    if bucket_copies.is_dir():
        candidates += [p for p in bucket_copies.glob("*/*/*") if p.is_dir()]
    for path in candidates:
        try:
            found.append(Entry(path, _size(path), path.stat().st_mtime))
        except FileNotFoundError:
            continue  # gone meanwhile
    return found


@dataclass(frozen=True, slots=True)
class Pruned:
    deleted: int
    freed_bytes: int
    kept_bytes: int


def prune(
    browser_copies: Path,
    bucket_copies: Path,
    *,
    now: float,
    max_bytes: int,
    max_age: float,
    serving: ServingFiles,
) -> Pruned:
    """Delete what :func:`choose` picks (blocking: run it in a thread)."""
    found = entries(browser_copies, bucket_copies)
    busy = {e.path for e in found if serving.busy(e.path)}
    chosen = choose(found, now=now, max_bytes=max_bytes, max_age=max_age, busy=busy)
    freed = 0
    deleted = 0
    for entry in chosen:
        try:
            if not serving.remove_unless_busy(entry.path):
                continue  # began to be served since it was chosen
        except FileNotFoundError:
            continue
        except OSError as exc:
            logger.warning("recordings cache: could not delete %s: %s", entry.path.name, exc)
            continue
        deleted += 1
        freed += entry.size
    for pattern in ("*/*", "*"):
        for folder in bucket_copies.glob(pattern) if bucket_copies.is_dir() else ():
            with contextlib.suppress(OSError):
                folder.rmdir()  # only when empty
    total = sum(e.size for e in found)
    return Pruned(deleted, freed, total - freed)
