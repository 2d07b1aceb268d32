"""What a recording file is, and a copy of it that a browser can play.

Asterisk writes WAV (16-bit PCM; GSM 6.10 for MixMonitor's ``wav49``, saved as ``.WAV``;
sometimes µ-law), raw GSM 6.10 (``.gsm``), and, through post-processing, MP3, Ogg Vorbis or
Ogg Opus. Browsers play PCM WAV, MP3 and Ogg Vorbis/Opus; everything else gets a 16-bit PCM
WAV copy. Decoding uses libsndfile through ``soundfile`` (its wheels bundle the library with
MP3, Vorbis and Opus support).

Both public functions are synchronous and block (they hash, decode and write whole files):
async callers run them in :func:`asyncio.to_thread`, as with :mod:`recordings.storage`.
Neither decides whether a path is safe to open: callers pass paths from
:meth:`recordings.storage.Storage.local_path`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import soundfile  # type: ignore[import-untyped]

from recordings.storage import UnsafePath

logger = logging.getLogger(__name__)

_HASH_CHUNK = 1024 * 1024
_COPY_FRAMES = 64 * 1024
_GSM_FRAME_BYTES = 33  # one GSM 6.10 frame: 160 samples at 8 kHz, 20 ms
_GSM_FRAMES_CHECKED = 64
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")

# libsndfile subtype -> codec, in the names ffmpeg and browsers' docs use where they agree.
_CODECS = {
    "PCM_U8": "pcm_u8",
    "PCM_S8": "pcm_s8",
    "PCM_16": "pcm_s16le",
    "PCM_24": "pcm_s24le",
    "PCM_32": "pcm_s32le",
    "FLOAT": "pcm_f32le",
    "DOUBLE": "pcm_f64le",
    "ULAW": "ulaw",
    "ALAW": "alaw",
    "GSM610": "gsm",
    "IMA_ADPCM": "adpcm_ima",
    "MS_ADPCM": "adpcm_ms",
    "G721_32": "g721",
    "G723_24": "g723_24",
    "G723_40": "g723_40",
    "VORBIS": "vorbis",
    "OPUS": "opus",
    "MPEG_LAYER_I": "mp1",
    "MPEG_LAYER_II": "mp2",
    "MPEG_LAYER_III": "mp3",
    "FLAC": "flac",
}

_CONTENT_TYPES = {
    "wav": "audio/wav",
    "gsm": "audio/x-gsm",
    "mp3": "audio/mpeg",
    "ogg": "audio/ogg",
    "opus": "audio/ogg; codecs=opus",
    "flac": "audio/flac",
    "au": "audio/basic",
}

# What Chromium, Firefox and Safari all play. WAV only with linear PCM: µ-law and A-law WAV
# play in some of them and not others, GSM in WAV (wav49) in none.
_PLAYABLE_WAV_CODECS = frozenset({"pcm_u8", "pcm_s16le", "pcm_s24le"})
_PLAYABLE = frozenset({("mp3", "mp3"), ("ogg", "vorbis"), ("opus", "opus")})


def is_browser_playable(format: str, codec: str) -> bool:
    """Whether Chromium, Firefox and Safari all play this container and codec as they are
    (for a recording described earlier by :func:`probe`)."""
    if format == "wav":
        return codec in _PLAYABLE_WAV_CODECS
    return (format, codec) in _PLAYABLE


class UndecodableAudio(ValueError):
    """The file is not audio that libsndfile can decode."""


@dataclass(frozen=True, slots=True)
class Media:
    size: int
    sha256: str
    format: str
    """Container: "wav", "gsm" (raw GSM 6.10), "mp3", "ogg" (Vorbis), "opus" (Ogg Opus)..."""
    codec: str
    """"pcm_s16le", "gsm", "ulaw", "alaw", "vorbis", "opus", "mp3"...; "unknown" when the
    file cannot be decoded."""
    content_type: str
    browser_playable: bool
    duration_seconds: float | None
    sample_rate: int | None
    channels: int | None


@dataclass(frozen=True, slots=True)
class _Header:
    format: str
    codec: str
    duration_seconds: float | None
    sample_rate: int | None
    channels: int | None

    @property
    def content_type(self) -> str:
        return _CONTENT_TYPES.get(self.format, "application/octet-stream")

    @property
    def browser_playable(self) -> bool:
        return is_browser_playable(self.format, self.codec)


def _guess_format(path: Path) -> str:
    """The container from the first bytes, else from the name (for files we cannot open)."""
    with path.open("rb") as f:
        head = f.read(36)
    if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"OggS":
        return "opus" if head[28:36] == b"OpusHead" else "ogg"
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "mp3"
    suffix = path.suffix.lower().lstrip(".")
    return suffix if suffix in _CONTENT_TYPES else "unknown"


def _looks_like_raw_gsm(path: Path) -> bool:
    # Raw GSM has no header: every 33-byte frame starts with the 0xD signature nibble.
    size = path.stat().st_size
    if size == 0 or size % _GSM_FRAME_BYTES:
        return False
    with path.open("rb") as f:
        data = f.read(_GSM_FRAME_BYTES * _GSM_FRAMES_CHECKED)
    return all(data[i] >> 4 == 0xD for i in range(0, len(data), _GSM_FRAME_BYTES))


def _open(path: Path) -> tuple[Any, str]:
    """An open ``soundfile.SoundFile`` and its container name; raises UndecodableAudio."""
    try:
        if path.suffix.lower() == ".gsm":
            if not _looks_like_raw_gsm(path):
                raise UndecodableAudio(f"{path.name} is not raw GSM 6.10")
            sound = soundfile.SoundFile(
                path, samplerate=8000, channels=1, format="RAW", subtype="GSM610"
            )
            return sound, "gsm"
        sound = soundfile.SoundFile(path)
    except (soundfile.SoundFileError, RuntimeError, TypeError, ValueError) as exc:
        if isinstance(exc, UndecodableAudio):
            raise
        raise UndecodableAudio(str(exc)) from exc
    container = {"WAV": "wav", "WAVEX": "wav", "RF64": "wav", "W64": "wav", "MP3": "mp3"}.get(
        sound.format, sound.format.lower()
    )
    if container == "ogg" and sound.subtype == "OPUS":
        container = "opus"
    return sound, container


def _header(path: Path) -> _Header:
    try:
        sound, container = _open(path)
    except UndecodableAudio as exc:
        logger.info("recordings: %s does not decode: %s", path.name, exc)
        return _Header(_guess_format(path), "unknown", None, None, None)
    try:
        with sound:
            # A header can be fine over a body that is not: decode a little to be sure.
            sound.read(min(sound.frames, 4096), dtype="int16")
            frames, rate, channels = sound.frames, sound.samplerate, sound.channels
            codec = _CODECS.get(sound.subtype, sound.subtype.lower())
    except (soundfile.SoundFileError, RuntimeError, ValueError) as exc:
        logger.info("recordings: %s does not decode: %s", path.name, exc)
        return _Header(container, "unknown", None, None, None)
    duration = frames / rate if rate else None
    return _Header(container, codec, duration, rate, channels)


def _sha256(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(_HASH_CHUNK):
            size += len(chunk)
            digest.update(chunk)
    return size, digest.hexdigest()


def probe(path: Path) -> Media:
    """Size, sha256 (streamed), container, codec, duration, rate, channels, MIME type and
    whether browsers play it as it is; only the header and the first frames are decoded.

    Raises FileNotFoundError (or another OSError) when the file cannot be read at all; a file
    that is not decodable audio gives ``codec="unknown"`` and ``duration_seconds=None``.
    """
    size, sha256 = _sha256(path)
    header = _header(path)
    return Media(
        size=size,
        sha256=sha256,
        format=header.format,
        codec=header.codec,
        content_type=header.content_type,
        browser_playable=header.browser_playable,
        duration_seconds=header.duration_seconds,
        sample_rate=header.sample_rate,
        channels=header.channels,
    )


def _transcode(path: Path, target: Path) -> None:
    sound, _ = _open(path)
    with sound:
        fd, temp_name = tempfile.mkstemp(prefix=".", suffix=".part", dir=target.parent)
        os.close(fd)
        temp = Path(temp_name)
        try:
            with soundfile.SoundFile(
                temp,
                "w",
                samplerate=sound.samplerate,
                channels=sound.channels,
                format="WAV",
                subtype="PCM_16",
            ) as out:
                while True:
                    block = sound.read(_COPY_FRAMES, dtype="int16", always_2d=True)
                    if not len(block):
                        break
                    out.write(block)
            os.replace(temp, target)
        except (soundfile.SoundFileError, RuntimeError, ValueError) as exc:
            raise UndecodableAudio(str(exc)) from exc
        finally:
            temp.unlink(missing_ok=True)


def browser_copy(path: Path, cache_dir: Path, key: str) -> Path:
    """A file of the same sound that every browser plays.

    ``path`` itself when it already plays (PCM WAV, MP3, Ogg Vorbis/Opus); otherwise a 16-bit
    PCM WAV (same rate and channels) at ``cache_dir/<key>.wav``, written to a temporary file
    and renamed into place, and reused while it is newer than the source. ``key`` names the
    copy (say, the recording's id) and must be a plain file name. Raises
    :class:`UndecodableAudio` for a file that does not decode.
    """
    if not _KEY.fullmatch(key):
        raise UnsafePath(f"cache key {key!r} is not a plain file name")
    source_mtime = path.stat().st_mtime_ns
    header = _header(path)
    if header.browser_playable:
        return path
    if header.codec == "unknown":
        raise UndecodableAudio(f"{path.name} is not audio that can be decoded")
    target = cache_dir / f"{key}.wav"
    try:
        if target.stat().st_mtime_ns > source_mtime:
            return target
    except FileNotFoundError:
        pass
    cache_dir.mkdir(parents=True, exist_ok=True)
    _transcode(path, target)
    return target
