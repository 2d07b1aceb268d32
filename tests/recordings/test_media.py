from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile  # type: ignore[import-untyped]

from recordings.media import (
    UndecodableAudio,
    browser_copy,
    is_browser_playable,
    probe,
)
from recordings.storage import UnsafePath


@dataclass(frozen=True)
class Sample:
    name: str
    sf_format: str
    sf_subtype: str
    rate: int
    channels: int
    format: str
    codec: str
    content_type: str
    playable: bool


SAMPLES = [
    Sample("pcm.wav", "WAV", "PCM_16", 8000, 1, "wav", "pcm_s16le", "audio/wav", True),
    Sample("stereo.wav", "WAV", "PCM_16", 8000, 2, "wav", "pcm_s16le", "audio/wav", True),
    Sample("ulaw.wav", "WAV", "ULAW", 8000, 1, "wav", "ulaw", "audio/wav", False),
    Sample("stereo-ulaw.wav", "WAV", "ULAW", 8000, 2, "wav", "ulaw", "audio/wav", False),
    Sample("alaw.wav", "WAV", "ALAW", 8000, 1, "wav", "alaw", "audio/wav", False),
    # MixMonitor's wav49: GSM 6.10 in WAV, saved with an upper-case extension.
    Sample("wav49.WAV", "WAV", "GSM610", 8000, 1, "wav", "gsm", "audio/wav", False),
    Sample("raw.gsm", "RAW", "GSM610", 8000, 1, "gsm", "gsm", "audio/x-gsm", False),
    Sample("vorbis.ogg", "OGG", "VORBIS", 8000, 1, "ogg", "vorbis", "audio/ogg", True),
    Sample("opus.opus", "OGG", "OPUS", 16000, 1, "opus", "opus", "audio/ogg; codecs=opus", True),
    Sample("mpeg.mp3", "MP3", "MPEG_LAYER_III", 8000, 1, "mp3", "mp3", "audio/mpeg", True),
]


def _tone(rate: int, channels: int, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    mono = 0.3 * np.sin(2 * np.pi * 440 * t)
    return np.stack([mono] * channels, axis=1) if channels > 1 else mono


@pytest.fixture(scope="module")
def audio(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("audio")
    for sample in SAMPLES:
        soundfile.write(
            directory / sample.name,
            _tone(sample.rate, sample.channels),
            sample.rate,
            format=sample.sf_format,
            subtype=sample.sf_subtype,
        )
    return directory


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.name)
def test_probe(audio: Path, sample: Sample) -> None:
    path = audio / sample.name
    media = probe(path)
    assert media.size == path.stat().st_size
    assert media.sha256 == _sha256(path)
    assert media.format == sample.format
    assert media.codec == sample.codec
    assert media.content_type == sample.content_type
    assert media.browser_playable is sample.playable
    assert media.sample_rate == sample.rate
    assert media.channels == sample.channels
    assert media.duration_seconds == pytest.approx(1.0, abs=0.05)
    assert is_browser_playable(media.format, media.codec) is sample.playable


@pytest.mark.parametrize("sample", [s for s in SAMPLES if not s.playable], ids=lambda s: s.name)
def test_browser_copy_of_what_browsers_do_not_play(
    audio: Path, tmp_path: Path, sample: Sample
) -> None:
    cache = tmp_path / "cache"
    copy = browser_copy(audio / sample.name, cache, "rec-42")
    assert copy == cache / "rec-42.wav"
    info = soundfile.info(copy)
    assert (info.format, info.subtype) == ("WAV", "PCM_16")
    assert info.samplerate == sample.rate
    assert info.channels == sample.channels
    assert info.duration == pytest.approx(1.0, abs=0.05)
    media = probe(copy)
    assert (media.format, media.codec, media.browser_playable) == ("wav", "pcm_s16le", True)
    # The copy still sounds: a 440 Hz tone, not silence.
    data, _ = soundfile.read(copy)
    assert np.abs(data).max() > 0.2
    assert sorted(os.listdir(cache)) == ["rec-42.wav"]  # no temporary file left


@pytest.mark.parametrize("sample", [s for s in SAMPLES if s.playable], ids=lambda s: s.name)
def test_browser_copy_of_what_browsers_play_is_the_file(
    audio: Path, tmp_path: Path, sample: Sample
) -> None:
    cache = tmp_path / "cache"
    assert browser_copy(audio / sample.name, cache, "rec-42") == audio / sample.name
    assert not cache.exists()


def test_browser_copy_is_reused_until_the_source_changes(audio: Path, tmp_path: Path) -> None:
    source = tmp_path / "call.gsm"
    source.write_bytes((audio / "raw.gsm").read_bytes())
    os.utime(source, (1_000_000_000, 1_000_000_000))
    cache = tmp_path / "cache"
    copy = browser_copy(source, cache, "rec-7")
    os.utime(copy, (1_500_000_000, 1_500_000_000))  # mark it to see whether it is rewritten
    assert browser_copy(source, cache, "rec-7") == copy
    assert copy.stat().st_mtime == 1_500_000_000
    os.utime(source, (1_600_000_000, 1_600_000_000))  # the source changed after the copy
    assert browser_copy(source, cache, "rec-7") == copy
    assert copy.stat().st_mtime > 1_600_000_000


@pytest.mark.parametrize("key", ["", "../x", "a/b", ".hidden", "a\x00b", "x" * 200])
def test_browser_copy_refuses_keys_that_are_no_file_names(
    audio: Path, tmp_path: Path, key: str
) -> None:
    with pytest.raises(UnsafePath):
        browser_copy(audio / "ulaw.wav", tmp_path, key)


def test_an_empty_recording(tmp_path: Path) -> None:
    # What MixMonitor leaves for a call nobody answered: a 44-byte WAV with no samples.
    path = tmp_path / "empty.wav"
    soundfile.write(path, np.zeros(0), 8000, subtype="PCM_16")
    assert path.stat().st_size == 44
    media = probe(path)
    assert (media.format, media.codec, media.duration_seconds) == ("wav", "pcm_s16le", 0.0)
    assert media.browser_playable


def test_a_wav_cut_short(audio: Path, tmp_path: Path) -> None:
    # A recording still being written, or copied half: the header promises more.
    path = tmp_path / "cut.wav"
    path.write_bytes((audio / "pcm.wav").read_bytes()[: 44 + 8000])
    media = probe(path)
    assert media.codec == "pcm_s16le"
    assert media.duration_seconds == pytest.approx(0.5, abs=0.01)


def _garbage(audio: Path) -> dict[str, bytes]:
    rng = np.random.default_rng(6)
    noise = rng.integers(0, 256, 4000, dtype=np.uint8).tobytes()
    return {
        "noise.wav": noise,
        "noise.gsm": noise[:3300],  # a multiple of 33 bytes, but no GSM frames
        "odd.gsm": (audio / "raw.gsm").read_bytes()[:100],
        "noise.mp3": b"\xff\xfb" + noise,
        "noise.ogg": b"OggS" + noise,
        "noise.bin": noise,
        "header.wav": (audio / "pcm.wav").read_bytes()[:20],
        "half.ogg": (audio / "vorbis.ogg").read_bytes()[:2000],
        "half.opus": (audio / "opus.opus").read_bytes()[:300],
        "zero.wav": b"",
        "text.wav": b"<html>404 Not Found</html>",
    }


def test_what_does_not_decode_is_still_described(audio: Path, tmp_path: Path) -> None:
    expected_formats = {
        "noise.wav": "wav",
        "noise.gsm": "gsm",
        "odd.gsm": "gsm",
        "noise.mp3": "mp3",
        "noise.ogg": "ogg",
        "noise.bin": "unknown",
        "header.wav": "wav",
        "half.ogg": "ogg",
        "half.opus": "opus",
        "zero.wav": "wav",
        "text.wav": "wav",
    }
    for name, data in _garbage(audio).items():
        path = tmp_path / name
        path.write_bytes(data)
        media = probe(path)
        assert media.size == len(data), name
        assert media.sha256 == hashlib.sha256(data).hexdigest(), name
        assert media.codec == "unknown", name
        assert media.duration_seconds is None, name
        assert media.sample_rate is None, name
        assert media.browser_playable is False, name
        assert media.format == expected_formats[name], name
        with pytest.raises(UndecodableAudio):
            browser_copy(path, tmp_path / "cache", "x")
    assert not (tmp_path / "cache").exists() or os.listdir(tmp_path / "cache") == []


def test_a_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        probe(tmp_path / "missing.wav")
    with pytest.raises(FileNotFoundError):
        browser_copy(tmp_path / "missing.gsm", tmp_path, "x")


@pytest.mark.parametrize(
    ("format", "codec", "playable"),
    [
        ("wav", "pcm_s16le", True),
        ("wav", "pcm_u8", True),
        ("wav", "ulaw", False),
        ("wav", "alaw", False),
        ("wav", "gsm", False),
        ("wav", "unknown", False),
        ("gsm", "gsm", False),
        ("mp3", "mp3", True),
        ("ogg", "vorbis", True),
        ("opus", "opus", True),
        ("ogg", "unknown", False),
    ],
)
def test_is_browser_playable(format: str, codec: str, playable: bool) -> None:
    assert is_browser_playable(format, codec) is playable
