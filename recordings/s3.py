"""Recordings in an S3-compatible bucket (AWS S3, MinIO, Ceph RGW, ArvanCloud...), through
boto3 (the ``s3`` extra).

Names: an object's key is ``<prefix>/<relative path>``, the relative path made and checked by
the same rules as :class:`recordings.storage.LocalStorage` (the PBX's spool prefix stripped;
``..``, hidden names, control characters, backslashes and percent escapes refused), so no key
Tamas reads, writes or deletes is outside the prefix.

Playing: the audio endpoint serves files with HTTP Range, and :mod:`recordings.media` probes
and converts files, so :meth:`S3Storage.local_path` gives a local copy: downloaded once into
the cache folder (to a temporary file, renamed into place when whole), reused while the
object's ETag and size are those it was downloaded with (one HEAD request tells), and dropped
by the recordings cache's pruning (:func:`recordings.cache.prune`, by age and total
size) a while after its last use.

Blocking work: boto3 is synchronous. Every method but :meth:`S3Storage.save` blocks, as with
the local storage, so async callers run them in :func:`asyncio.to_thread`; boto3's clients
are safe to share between threads.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import tempfile
from collections.abc import AsyncIterable, Iterator, Mapping, Sequence
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Literal

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from recordings.storage import (
    DEFAULT_FIND_LIMIT,
    DEFAULT_SPOOL_PREFIXES,
    FileConflict,
    FileInfo,
    SpoolNames,
    StorageUnavailable,
    TooLarge,
    UnsafePath,
    canonical,
    check_pattern,
    escaped_fields,
    pattern_fields,
    to_thread_to_the_end,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import HeadObjectOutputTypeDef

logger = logging.getLogger(__name__)

_CHUNK = 1024 * 1024
# Uploads are gathered here (in memory up to this size, then in a file in the cache folder)
# because a PUT needs the length first.
_SPOOL_IN_MEMORY = 8 * 1024 * 1024
_MAGIC = re.compile(r"[*?[]")
# A fallback search that lists more keys than this is hopeless anyway (and slow): stop.
_MAX_LISTED = 20_000
_TEMP_PREFIX = ".tamas-"


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def _unavailable(bucket: str, what: str, exc: Exception) -> StorageUnavailable:
    where = f"bucket {bucket!r}, {what}"
    if isinstance(exc, ClientError) and _status(exc) == 403:
        # Without s3:ListBucket, S3 answers 403 rather than 404 for a missing object.
        return StorageUnavailable(
            f"{where}: access denied (the credentials need s3:GetObject, s3:PutObject, "
            "s3:DeleteObject and s3:ListBucket on the bucket)"
        )
    return StorageUnavailable(f"{where}: {exc}")


def client_for(endpoint_url: str | None, region: str | None) -> S3Client:
    """A client for AWS S3 (``endpoint_url`` None) or an S3-compatible service, with the
    credentials of boto3's usual chain (environment, shared files, instance roles)."""
    compatible: Literal["when_supported", "when_required"] = (
        "when_required" if endpoint_url else "when_supported"
    )
    config = Config(
        connect_timeout=5,
        read_timeout=60,
        retries={"mode": "standard", "max_attempts": 3},
        # The CRC checksums boto3 adds to every upload since 1.36 are refused by several
        # S3-compatible services (older MinIO and Ceph among them): only where required.
        request_checksum_calculation=compatible,
        response_checksum_validation=compatible,
    )
    session = boto3.session.Session()
    return session.client("s3", endpoint_url=endpoint_url, region_name=region, config=config)


class S3Storage(SpoolNames):
    """Recordings in one bucket under one key prefix; local copies under ``cache_dir``."""

    def __init__(
        self,
        bucket: str,
        cache_dir: Path,
        *,
        prefix: str = "",
        spool_prefixes: Sequence[str] = DEFAULT_SPOOL_PREFIXES,
        client: S3Client | None = None,
        endpoint_url: str | None = None,
        region: str | None = None,
    ) -> None:
        super().__init__(spool_prefixes)
        self.bucket = bucket
        stripped = prefix.strip("/")
        self.prefix = canonical(stripped) + "/" if stripped else ""
        self.cache_dir = Path(os.path.abspath(cache_dir))
        self.client = client if client is not None else client_for(endpoint_url, region)
        self._bucket_seen = False

    def key(self, relative: str) -> str:
        return self.prefix + canonical(relative)

    # -- objects ---------------------------------------------------------------------------

    def _head(self, key: str) -> HeadObjectOutputTypeDef | None:
        try:
            return self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _status(exc) == 404:
                self._check_bucket()
                return None
            raise _unavailable(self.bucket, f"looking up {key}", exc) from exc
        except BotoCoreError as exc:
            raise _unavailable(self.bucket, f"looking up {key}", exc) from exc

    def _check_bucket(self) -> None:
        """A HEAD answers 404 for a missing bucket as for a missing object: a bucket that
        is not there (a typo in the settings) must not make every recording "missing"."""
        if self._bucket_seen:
            return
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (ClientError, BotoCoreError) as exc:
            if isinstance(exc, ClientError) and _status(exc) == 404:
                raise StorageUnavailable(f"there is no bucket {self.bucket!r}") from exc
            raise _unavailable(self.bucket, "looking it up", exc) from exc
        self._bucket_seen = True

    def stat(self, relative: str) -> FileInfo | None:
        head = self._head(self.key(relative))
        if head is None:
            return None
        return FileInfo(
            path=canonical(relative), size=head["ContentLength"], mtime=head["LastModified"]
        )

    def delete(self, relative: str) -> None:
        """Delete the object and the local copy. On a versioned bucket S3 keeps the older
        versions behind a delete marker: a lifecycle rule has to expire them."""
        key = self.key(relative)
        try:
            self.client.delete_object(Bucket=self.bucket, Key=key)
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable(self.bucket, f"deleting {key}", exc) from exc
        shutil.rmtree(self._slot(key), ignore_errors=True)

    # -- local copies ------------------------------------------------------------------------

    def _slot(self, key: str) -> Path:
        # Hashed: the cache's layout owes nothing to names that came from outside.
        digest = hashlib.sha256(f"{self.bucket}\0{key}".encode()).hexdigest()
        return self.cache_dir / digest[:2] / digest

    def local_path(self, relative: str) -> Path:
        """The object downloaded once (whole, or not at all) into the cache, under its own
        name (its suffix tells raw GSM from other formats); FileNotFoundError when there is
        no such object."""
        name = PurePosixPath(canonical(relative)).name
        key = self.key(relative)
        for _ in range(3):  # the object replaced while it downloads: again, with the new one
            head = self._head(key)
            if head is None:
                raise FileNotFoundError(relative)
            etag, size = head["ETag"], head["ContentLength"]
            version = hashlib.sha256(f"{etag}\0{size}".encode()).hexdigest()[:32]
            target = self._slot(key) / version / name
            try:
                if target.stat().st_size == size:
                    os.utime(target.parent)  # in use: not pruned
                    return target
            except FileNotFoundError:
                pass
            if self._download(key, etag, size, target):
                return target
        raise StorageUnavailable(f"{key} keeps changing while it downloads")

    def _download(self, key: str, etag: str, size: int, target: Path) -> bool:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(prefix=_TEMP_PREFIX, suffix=".part", dir=target.parent)
        temp = Path(temp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                try:
                    # IfMatch: the bytes are those of the version the copy is named after.
                    body = self.client.get_object(Bucket=self.bucket, Key=key, IfMatch=etag)["Body"]
                    try:
                        for chunk in body.iter_chunks(_CHUNK):
                            out.write(chunk)
                    finally:
                        body.close()
                except ClientError as exc:
                    if _status(exc) in (404, 412):
                        return False
                    raise _unavailable(self.bucket, f"downloading {key}", exc) from exc
                except BotoCoreError as exc:
                    raise _unavailable(self.bucket, f"downloading {key}", exc) from exc
                out.flush()
                os.fsync(out.fileno())
                written = out.tell()
            if written != size:
                raise StorageUnavailable(f"{key}: got {written} bytes of {size}")
            os.replace(temp, target)
            return True
        finally:
            temp.unlink(missing_ok=True)

    def find(
        self,
        patterns: Sequence[str],
        fields: Mapping[str, str],
        *,
        limit: int = DEFAULT_FIND_LIMIT,
    ) -> list[str]:
        """As :meth:`LocalStorage.find`: glob patterns relative to the prefix (``*`` and
        ``?`` never cross a ``/``; hidden names never match), escaped field values. Each
        pattern lists only the keys under its literal beginning."""
        escaped = escaped_fields(fields)
        found: set[str] = set()
        for pattern in patterns:
            check_pattern(pattern)
            if not pattern_fields(pattern) <= escaped.keys():
                continue
            segments = [s for s in pattern.format_map(escaped).split("/") if s not in ("", ".")]
            if not segments:
                continue
            for rel in self._matching(segments):
                found.add(rel)
                if len(found) >= limit:
                    return sorted(found)
        return sorted(found)

    def _matching(self, segments: list[str]) -> Iterator[str]:
        literal = 0
        while literal < len(segments) and not _MAGIC.search(segments[literal]):
            literal += 1
        if literal == len(segments):  # no wildcard: one name
            rel = "/".join(segments)
            try:
                if self.stat(rel) is not None:
                    yield canonical(rel)
            except UnsafePath as exc:
                logger.warning("recordings: skipped %r: %s", rel, exc)
            return
        head = "/".join(segments[:literal])
        start = _MAGIC.split(segments[literal], 1)[0]
        listing = self.prefix + (head + "/" if head else "") + start
        # One level: list that folder only, not everything under it.
        flat = literal == len(segments) - 1
        for key in self._keys(listing, flat):
            parts = key[len(self.prefix) :].split("/")
            if len(parts) != len(segments) or any(p.startswith(".") for p in parts):
                continue
            if not all(fnmatchcase(p, s) for p, s in zip(parts, segments, strict=True)):
                continue
            try:
                yield canonical("/".join(parts))
            except UnsafePath as exc:
                logger.warning("recordings: skipped %r found by a pattern: %s", key, exc)

    def _keys(self, listing: str, flat: bool) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        if flat:
            pages = paginator.paginate(Bucket=self.bucket, Prefix=listing, Delimiter="/")
        else:
            pages = paginator.paginate(Bucket=self.bucket, Prefix=listing)
        listed = 0
        try:
            for page in pages:
                for item in page.get("Contents", []):
                    listed += 1
                    if listed > _MAX_LISTED:
                        logger.warning(
                            "recordings: stopped a search after %d keys under %r",
                            _MAX_LISTED,
                            listing,
                        )
                        return
                    yield item["Key"]
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable(self.bucket, f"listing {listing!r}", exc) from exc

    # -- uploads ---------------------------------------------------------------------------

    async def save(self, relative: str, chunks: AsyncIterable[bytes], max_bytes: int) -> FileInfo:
        """Store an upload as one object, written only when whole (a PUT is atomic) and only
        where there is none yet (``If-None-Match: *``, and a look first for services that
        ignore it). The same content again is accepted; other content is a
        :class:`FileConflict`. Its sha256 goes into the object's metadata."""
        rel = canonical(relative)
        key = self.prefix + rel
        await to_thread_to_the_end(self.cache_dir.mkdir, 0o777, True, True)
        with tempfile.SpooledTemporaryFile(
            max_size=_SPOOL_IN_MEMORY, prefix=_TEMP_PREFIX, dir=str(self.cache_dir)
        ) as spool:
            digest = hashlib.sha256()
            size = 0
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise TooLarge(max_bytes)
                digest.update(chunk)
                await to_thread_to_the_end(spool.write, chunk)
            return await to_thread_to_the_end(self._put, rel, key, spool, size, digest.hexdigest())

    def _put(self, rel: str, key: str, body: IO[bytes], size: int, sha256: str) -> FileInfo:
        existing = self._head(key)
        if existing is None:
            body.seek(0)
            try:
                self.client.put_object(
                    Bucket=self.bucket,
                    Key=key,
                    Body=body,
                    ContentLength=size,
                    Metadata={"sha256": sha256},
                    IfNoneMatch="*",
                )
            except ClientError as exc:
                # 412: stored meanwhile; 409: another conditional upload of it under way.
                if _status(exc) not in (409, 412):
                    raise _unavailable(self.bucket, f"storing {key}", exc) from exc
            except BotoCoreError as exc:
                raise _unavailable(self.bucket, f"storing {key}", exc) from exc
            existing = self._head(key)
            if existing is None:
                raise StorageUnavailable(f"{key} is not there after storing it")
        if not self._same(key, existing, size, sha256):
            raise FileConflict(f"{rel} already exists with other content")
        return FileInfo(
            path=rel, size=existing["ContentLength"], mtime=existing["LastModified"], sha256=sha256
        )

    def _same(self, key: str, head: HeadObjectOutputTypeDef, size: int, sha256: str) -> bool:
        if head["ContentLength"] != size:
            return False
        stored = head.get("Metadata", {}).get("sha256")
        if stored:
            return stored == sha256
        # Put there by something else (a sync): hash it.
        digest = hashlib.sha256()
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=key, IfMatch=head["ETag"])["Body"]
            try:
                for chunk in body.iter_chunks(_CHUNK):
                    digest.update(chunk)
            finally:
                body.close()
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable(self.bucket, f"reading {key}", exc) from exc
        return digest.hexdigest() == sha256
