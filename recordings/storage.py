"""A local recordings root that nothing can climb out of.

The PBX reports where it wrote a recording as an absolute path on its own host
(``/var/spool/asterisk/monitor/2026/11/22/in-100-0912...-1795345220.0.wav``); Tamas sees
the same spool mounted (or copied) under :attr:`LocalStorage.root`. :meth:`relative` turns
the reported path into a relative POSIX path under the root, which is what the database
keeps; :meth:`resolve` turns that back into a file on this host, refusing anything that
would lead outside the root.

Where decoding happens: nowhere here. Text reaches this module already decoded (Starlette
decodes the path, the query and a multipart file name once; the PBX's variables are never
encoded). A name that still holds a percent escape (``%2e%2e%2f``, ``..%2f``, the
double-encoded ``%252e``) is refused rather than decoded again, because whoever decoded it
once more later (a proxy, a log viewer, a download link) would read another path than the
one checked. Asterisk never writes percent escapes into a file name.

Blocking work: the methods are synchronous, and those that touch the disk (:meth:`resolve`,
:meth:`stat`, :meth:`find`, :meth:`local_path`, :meth:`delete`) can block for a while (the
spool is often a network mount, where even a ``stat`` can stall), so async callers run them in
:func:`asyncio.to_thread`. The exception is :meth:`save`, a coroutine because it consumes an
async stream; it does its own file work in threads. :meth:`relative` is pure.

:class:`Storage` is what the rest of Tamas uses; :class:`LocalStorage` is one, the
S3-compatible bucket of :mod:`recordings.s3` (the ``s3`` extra) the other. Both name files by
the same relative paths, made and checked by the same rules.
"""

from __future__ import annotations

import asyncio
import glob
import hashlib
import logging
import os
import re
import stat as stat_module
import string
import tempfile
import unicodedata
from collections.abc import AsyncIterable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol, TypeVar

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

DEFAULT_SPOOL_PREFIXES: tuple[str, ...] = ("/var/spool/asterisk/monitor/",)

# Fallback discovery, tried in order. Fields: Y, m, d (the call's date on the PBX, zero
# padded as strftime's %Y %m %d) and uniqueid (the Asterisk channel's Uniqueid). Every
# convention below ends the name with "-<uniqueid>.<format>", so matching that suffix is
# enough and does not depend on the caller id or the destination, which vary.
DEFAULT_PATTERNS: tuple[str, ...] = (
    # FreePBX 2.11 and later, and Issabel (the same sub-record-check dialplan): MixMonitor
    # writes ${MIXMON_DIR}${YEAR}/${MONTH}/${DAY}/${CALLFILENAME}.${MON_FMT}, where
    # CALLFILENAME is <type>-<destination>-<from>-<YYYYmmdd>-<HHMMSS>-<uniqueid> and type is
    # in, out, internal, external, exten, rg, q, conf or ondemand; MON_FMT is wav, gsm, mp3
    # ..., or "WAV" for wav49 (GSM in WAV).
    "{Y}/{m}/{d}/*-{uniqueid}.*",
    # Flat spools: FreePBX 2.x and Elastix before the dated folders (OUT<ext>-..., q<queue>-...,
    # g<group>-..., all ending in -<uniqueid>), plain Asterisk dialplans that follow the same
    # habit, and the simulator's <YYYYmmdd>-<HHMMSS>-<type>-<dst>-<src>-<uniqueid>.wav.
    "*-{uniqueid}.*",
)

# Beyond this many matches a fallback search is hopeless anyway; stop walking.
DEFAULT_FIND_LIMIT = 50

_HASH_CHUNK = 1024 * 1024
_TEMP_PREFIX = ".tamas-upload-"
_PERCENT_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_MAX_NAME_BYTES = 255  # NAME_MAX on Linux and the BSDs


class UnsafePath(ValueError):
    """A path that would escape the root, or that cannot be named safely."""


class FileConflict(FileExistsError):
    """A file with different content already exists where an upload would go."""


class StorageUnavailable(OSError):
    """The storage could not be reached, or refused a request for another reason than the
    file not being there (credentials, permissions, a network error)."""


class TooLarge(ValueError):
    """An upload went past its size limit (nothing of it was kept)."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"the file is larger than {max_bytes} bytes")
        self.max_bytes = max_bytes


@dataclass(frozen=True, slots=True)
class FileInfo:
    path: str
    """Relative POSIX path under the root."""
    size: int
    mtime: datetime
    """Last modification, timezone-aware (UTC)."""
    sha256: str | None = None
    """Hex digest, filled in by :meth:`Storage.save` (it hashes while writing)."""


class Storage(Protocol):
    """Where recordings are kept, named by relative POSIX paths (never by anything a caller
    could point elsewhere). Everything but :meth:`relative` and :meth:`save` blocks: async
    callers run it in :func:`asyncio.to_thread`."""

    def relative(self, reported: str) -> str:
        """The relative path for a path the PBX reported (:class:`UnsafePath` if unsafe)."""
        ...

    def stat(self, relative: str) -> FileInfo | None:
        """Size and modification time, or None when there is no such file."""
        ...

    def find(
        self, patterns: Sequence[str], fields: Mapping[str, str], *, limit: int = ...
    ) -> list[str]:
        """Relative paths of the files matching any of the glob ``patterns``, sorted."""
        ...

    async def save(self, relative: str, chunks: AsyncIterable[bytes], max_bytes: int) -> FileInfo:
        """Store an upload, whole or not at all (:class:`TooLarge`, :class:`FileConflict`)."""
        ...

    def local_path(self, relative: str) -> Path:
        """A file on this host with the recording's bytes, to probe and to serve (with HTTP
        Range); FileNotFoundError when there is no such recording."""
        ...

    def delete(self, relative: str) -> None:
        """Remove the file (retention); no error when it is already gone."""
        ...


def _check_text(text: str) -> None:
    if not text:
        raise UnsafePath("empty path")
    if any(ord(c) < 0x20 or c == "\x7f" for c in text):
        raise UnsafePath("control character in path")
    if "\\" in text:
        raise UnsafePath("backslash in path")
    if _PERCENT_ESCAPE.search(text):
        raise UnsafePath("percent-encoded path")
    # Compatibility forms (fullwidth "．．／", "％２ｅ") are harmless on POSIX but turn into
    # traversal in anything that NFKC-normalises later; refuse them as if already folded.
    folded = unicodedata.normalize("NFKC", text)
    if folded != text:
        _check_text(folded)
        if ".." in folded.split("/"):
            raise UnsafePath("parent directory reference in path")


def _parts(text: str) -> list[str]:
    """Checked components of ``text``, without empty and "." components."""
    _check_text(text)
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafePath("parent directory reference in path")
    return parts


def _check_kept(parts: Sequence[str]) -> str:
    if not parts:
        raise UnsafePath("empty path")
    for part in parts:
        # Dot names are refused so that an upload can never be named like one of our
        # temporary files, and so that hidden files are never listed or served.
        if part.startswith("."):
            raise UnsafePath("hidden name in path")
        if len(part.encode("utf-8", "surrogateescape")) > _MAX_NAME_BYTES:
            raise UnsafePath("name too long")
    return "/".join(parts)


def canonical(relative: str) -> str:
    """``relative`` checked and normalised (``a//./b`` -> ``a/b``); :class:`UnsafePath` for
    an absolute path, ``..``, hidden names, control characters, backslashes, percent escapes."""
    if relative.startswith("/"):
        raise UnsafePath("absolute path where a relative one is expected")
    return _check_kept(_parts(relative))


def escaped_fields(fields: Mapping[str, str]) -> dict[str, str]:
    """Pattern field values, glob-escaped; a value that could name a directory is refused."""
    escaped = {}
    for name, value in fields.items():
        if not value or value in (".", "..") or any(c in value for c in "/\\\x00"):
            raise UnsafePath(f"field {name!r} cannot be part of a file name")
        escaped[name] = glob.escape(value)
    return escaped


def check_pattern(pattern: str) -> None:
    if pattern.startswith("/") or ".." in pattern.split("/"):
        raise UnsafePath(f"pattern {pattern!r} leads outside the root")


def _mtime(st: os.stat_result) -> datetime:
    return datetime.fromtimestamp(st.st_mtime, UTC)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some network file systems refuse fsync on a directory
    finally:
        os.close(fd)


def pattern_fields(pattern: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(pattern) if name is not None}


class SpoolNames:
    """The mapping from the paths the PBX reports to relative paths, shared by every storage.

    ``spool_prefixes`` are the directories, as the PBX names them, that correspond to the
    root (the spool mounted here, or the bucket's prefix); a reported path under one of them
    keeps its sub-folders.
    """

    def __init__(self, spool_prefixes: Sequence[str] = DEFAULT_SPOOL_PREFIXES) -> None:
        prefixes = []
        for prefix in spool_prefixes:
            if not prefix.startswith("/"):
                raise ValueError(f"spool prefix {prefix!r} is not absolute")
            prefixes.append(tuple(_parts(prefix)))
        # Longest first, so that a nested prefix wins over its parent.
        self._prefixes = sorted(prefixes, key=len, reverse=True)

    # -- names ---------------------------------------------------------------------------

    def relative(self, reported: str) -> str:
        """The relative POSIX path under the root for a path the PBX reported.

        Under a spool prefix: the rest of the path (``.../monitor/2026/11/22/x.wav`` ->
        ``2026/11/22/x.wav``); another absolute path: its base name; a relative name: itself,
        normalised. Raises :class:`UnsafePath` for ``..``, NUL and control characters,
        backslashes, percent escapes, hidden (dot) names and empty results.
        """
        parts = _parts(reported)
        if not reported.startswith("/"):
            return _check_kept(parts)
        for prefix in self._prefixes:
            if tuple(parts[: len(prefix)]) == prefix:
                return _check_kept(parts[len(prefix) :])
        return _check_kept(parts[-1:])


class LocalStorage(SpoolNames):
    """Recordings under one directory on this host (see :class:`SpoolNames` for
    ``spool_prefixes``)."""

    def __init__(
        self,
        root: Path,
        spool_prefixes: Sequence[str] = DEFAULT_SPOOL_PREFIXES,
    ) -> None:
        super().__init__(spool_prefixes)
        self.root = Path(os.path.abspath(root))

    # -- files ---------------------------------------------------------------------------

    def resolve(self, relative: str) -> Path:
        """The file on this host for a relative path, which need not exist yet.

        Symbolic links are followed and must end inside the root (a link inside the root
        pointing inside it is fine). An existing path must be a regular file. The result is
        the real path, so a link swapped afterwards does not change what is opened.
        """
        rel = canonical(relative)
        root = Path(os.path.realpath(self.root))
        real = Path(os.path.realpath(self.root / rel))
        if real == root or not real.is_relative_to(root):
            raise UnsafePath("path leads outside the recordings root")
        try:
            st = os.stat(real)
        except FileNotFoundError:
            return real
        if not stat_module.S_ISREG(st.st_mode):
            raise UnsafePath("not a regular file")
        return real

    def stat(self, relative: str) -> FileInfo | None:
        """Size and modification time, or None when there is no such file."""
        path = self.resolve(relative)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None
        if not stat_module.S_ISREG(st.st_mode):
            raise UnsafePath("not a regular file")
        return FileInfo(path=canonical(relative), size=st.st_size, mtime=_mtime(st))

    # -- fallback discovery ----------------------------------------------------------------

    def find(
        self,
        patterns: Sequence[str],
        fields: Mapping[str, str],
        *,
        limit: int = DEFAULT_FIND_LIMIT,
    ) -> list[str]:
        """Relative paths of the regular files that match any of ``patterns``, sorted.

        Patterns are globs relative to the root with ``{field}`` placeholders; field values
        are glob-escaped, so a caller id holding ``*``, ``?`` or ``[`` matches only itself,
        and a value holding ``/`` is refused (:class:`UnsafePath`). A pattern naming a field
        missing from ``fields`` is skipped. Matches that lead outside the root (symlinks),
        hidden files and anything but regular files are left out; at most ``limit`` are
        returned.
        """
        escaped = escaped_fields(fields)
        found: set[str] = set()
        for pattern in patterns:
            check_pattern(pattern)
            if not pattern_fields(pattern) <= escaped.keys():
                continue  # a field this caller does not know (say, no date): skip
            for match in glob.iglob(pattern.format_map(escaped), root_dir=self.root):
                try:
                    rel = canonical(Path(match).as_posix())
                    path = self.resolve(rel)
                except UnsafePath as exc:
                    logger.warning("recordings: skipped %r found by %r: %s", match, pattern, exc)
                    continue
                if path.is_file():
                    found.add(rel)
                    if len(found) >= limit:
                        return sorted(found)
        return sorted(found)

    def local_path(self, relative: str) -> Path:
        """The file itself (:meth:`resolve`); FileNotFoundError when it is not there."""
        path = self.resolve(relative)
        if not path.is_file():
            raise FileNotFoundError(relative)
        return path

    def delete(self, relative: str) -> None:
        self.resolve(relative).unlink(missing_ok=True)

    # -- uploads ---------------------------------------------------------------------------

    def _prepare(self, upload: _Upload) -> None:
        target = self.resolve(upload.rel)
        root = Path(os.path.realpath(self.root))
        target.parent.mkdir(parents=True, exist_ok=True)
        # A directory swapped for a link while we created the others would show here.
        if not Path(os.path.realpath(target.parent)).is_relative_to(root):
            raise UnsafePath("path leads outside the recordings root")
        upload.target = target
        fd, temp_name = tempfile.mkstemp(prefix=_TEMP_PREFIX, suffix=".part", dir=target.parent)
        upload.temp = Path(temp_name)
        upload.out = os.fdopen(fd, "wb")

    def _commit(self, rel: str, target: Path, temp: Path, sha256: str) -> FileInfo:
        try:
            # link() never replaces an existing file, so two uploads of the same name cannot
            # silently overwrite each other.
            os.link(temp, target)
        except FileExistsError:
            if _sha256_file(target) != sha256:
                raise FileConflict(f"{rel} already exists with other content") from None
        except OSError:
            # File systems without hard links: check, then rename (a narrow race remains).
            if target.exists():
                if _sha256_file(target) != sha256:
                    raise FileConflict(f"{rel} already exists with other content") from None
            else:
                os.rename(temp, target)
        finally:
            temp.unlink(missing_ok=True)
        _fsync_dir(target.parent)
        st = os.stat(target)
        return FileInfo(path=rel, size=st.st_size, mtime=_mtime(st), sha256=sha256)

    async def save(self, relative: str, chunks: AsyncIterable[bytes], max_bytes: int) -> FileInfo:
        """Store an upload at ``relative``, atomically.

        The bytes go to a temporary file beside the target, which takes the target's name
        only when complete. Raises :class:`TooLarge` past ``max_bytes`` and
        :class:`FileConflict` when a file with other content is already there (the same
        content again is accepted and returns the existing file). Nothing partial is left
        behind, also on cancellation.
        """
        upload = _Upload(canonical(relative))
        digest = hashlib.sha256()
        size = 0
        try:
            await to_thread_to_the_end(self._prepare, upload)
            assert upload.out is not None and upload.temp is not None and upload.target
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise TooLarge(max_bytes)
                digest.update(chunk)
                await to_thread_to_the_end(upload.out.write, chunk)
            await to_thread_to_the_end(_flush, upload.out)
            return await to_thread_to_the_end(
                self._commit, upload.rel, upload.target, upload.temp, digest.hexdigest()
            )
        finally:
            # Also on TooLarge, cancellation or a failed write; a no-op after the commit. Run
            # here, not in a thread, so that a second cancellation cannot skip it.
            if upload.out is not None:
                upload.out.close()
            if upload.temp is not None:
                upload.temp.unlink(missing_ok=True)


@dataclass(slots=True)
class _Upload:
    rel: str
    target: Path | None = None
    temp: Path | None = None
    out: IO[bytes] | None = None


def _flush(out: IO[bytes]) -> None:
    out.flush()
    os.fsync(out.fileno())


async def to_thread_to_the_end(func: Callable[..., _T], *args: Any) -> _T:
    """:func:`asyncio.to_thread`, except that a cancelled caller still waits for the thread
    to finish (then is cancelled), so that its clean-up sees everything the thread did."""
    future = asyncio.ensure_future(asyncio.to_thread(func, *args))
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        await asyncio.wait([future])
        raise
