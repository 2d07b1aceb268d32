from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import AsyncIterator, Iterable
from datetime import UTC
from pathlib import Path

import pytest

from recordings.storage import (
    DEFAULT_PATTERNS,
    FileConflict,
    LocalStorage,
    TooLarge,
    UnsafePath,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "ami"
MONITOR = "/var/spool/asterisk/monitor"


def _reported_recordings() -> list[str]:
    paths = []
    for fixture in sorted(FIXTURES.glob("*.json")):
        for recording in json.loads(fixture.read_text()).get("recordings", []):
            paths.append(recording["path"])
    return paths


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "spool"
    path.mkdir()
    return path


@pytest.fixture
def storage(root: Path) -> LocalStorage:
    return LocalStorage(root)


def _every_name(directory: Path) -> list[str]:
    """Every entry under ``directory``, hidden ones too."""
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))


# -- relative() ------------------------------------------------------------------------------


def test_the_recorded_calls_paths_map_to_their_names(storage: LocalStorage) -> None:
    reported = _reported_recordings()
    assert len(reported) >= 5
    for path in reported:
        assert storage.relative(path) == path.rsplit("/", 1)[1]
    assert (
        storage.relative(f"{MONITOR}/20261122-110035-in-100-+982188776655-1795345235.2.wav")
        == "20261122-110035-in-100-+982188776655-1795345235.2.wav"
    )


@pytest.mark.parametrize(
    ("reported", "relative"),
    [
        # FreePBX / Issabel dated folders keep their sub-folders.
        (
            f"{MONITOR}/2026/11/22/in-100-09121234567-20261122-110020-1795345220.0.wav",
            "2026/11/22/in-100-09121234567-20261122-110020-1795345220.0.wav",
        ),
        (
            f"{MONITOR}/2026/11/22/q-500-09121234567-20261122-110128-1795345288.8.WAV",
            "2026/11/22/q-500-09121234567-20261122-110128-1795345288.8.WAV",
        ),
        (f"{MONITOR}//2026/./11/22/x.wav", "2026/11/22/x.wav"),
        # Outside every prefix: only the name is known to mean anything here.
        ("/mnt/recordings/2026/x.wav", "x.wav"),
        ("/var/spool/asterisk/monitorX/y.gsm", "y.gsm"),
        ("/var/spool/asterisk/x.wav", "x.wav"),
        # Bare names stay as they are, normalised.
        ("x.wav", "x.wav"),
        ("2026/11/22/x.wav", "2026/11/22/x.wav"),
        ("./2026//11/x.wav", "2026/11/x.wav"),
        ("ضبط-تماس.wav", "ضبط-تماس.wav"),
        ("100%.wav", "100%.wav"),
    ],
)
def test_relative(storage: LocalStorage, reported: str, relative: str) -> None:
    assert storage.relative(reported) == relative


def test_relative_strips_the_longest_prefix(root: Path) -> None:
    storage = LocalStorage(root, ["/var/spool/asterisk", f"{MONITOR}/", "/srv/rec/"])
    assert storage.relative(f"{MONITOR}/2026/11/22/x.wav") == "2026/11/22/x.wav"
    assert storage.relative("/var/spool/asterisk/voicemail/x.wav") == "voicemail/x.wav"
    assert storage.relative("/srv/rec/a/b.ogg") == "a/b.ogg"


def test_spool_prefixes_must_be_absolute(root: Path) -> None:
    with pytest.raises(ValueError):
        LocalStorage(root, ["monitor/"])


UNSAFE_NAMES = [
    "",
    "/",
    ".",
    f"{MONITOR}/",
    "../etc/passwd",
    "a/../../etc/passwd",
    f"{MONITOR}/../../../etc/passwd",
    f"{MONITOR}/2026/../../x.wav",
    "..%2f..%2fetc%2fpasswd",
    "..%2F..%2Fetc%2Fpasswd",
    "%2e%2e/%2e%2e/etc/passwd",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "%252e%252e%252fetc%252fpasswd",
    "%25252e%25252e%25252fetc",
    "..\\..\\etc\\passwd",
    "2026\\x.wav",
    "a\x00.wav",
    "a.wav\x00.jpg",
    "a\nb.wav",
    ".hidden.wav",
    "2026/.tamas-upload-x.part",
    "．．／．．／etc／passwd",
    "％２ｅ％２ｅ／etc",
    "x" * 256 + ".wav",
]


@pytest.mark.parametrize("name", UNSAFE_NAMES)
def test_relative_refuses(storage: LocalStorage, name: str) -> None:
    with pytest.raises(UnsafePath):
        storage.relative(name)


# -- resolve() and stat() ----------------------------------------------------------------------


@pytest.mark.parametrize("name", [*UNSAFE_NAMES, "/etc/passwd", f"{MONITOR}/x.wav"])
def test_resolve_refuses(storage: LocalStorage, name: str) -> None:
    with pytest.raises(UnsafePath):
        storage.resolve(name)


def test_resolve_a_file_and_a_missing_one(storage: LocalStorage, root: Path) -> None:
    (root / "2026" / "11").mkdir(parents=True)
    (root / "2026" / "11" / "x.wav").write_bytes(b"RIFF")
    real_root = root.resolve()
    assert storage.resolve("2026/11/x.wav") == real_root / "2026" / "11" / "x.wav"
    assert storage.resolve("2026/11/missing.wav") == real_root / "2026" / "11" / "missing.wav"
    assert storage.resolve("nowhere/missing.wav") == real_root / "nowhere" / "missing.wav"


def test_resolve_follows_links_that_stay_inside(storage: LocalStorage, root: Path) -> None:
    (root / "archive").mkdir()
    (root / "archive" / "x.wav").write_bytes(b"RIFF")
    (root / "link.wav").symlink_to(root / "archive" / "x.wav")
    (root / "today").symlink_to("archive")  # a relative link
    assert storage.resolve("link.wav") == root.resolve() / "archive" / "x.wav"
    assert storage.resolve("today/x.wav") == root.resolve() / "archive" / "x.wav"


def test_resolve_refuses_links_that_lead_outside(
    storage: LocalStorage, root: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.wav").write_bytes(b"RIFF")
    (root / "file.wav").symlink_to(outside / "secret.wav")
    (root / "dir").symlink_to(outside)
    (root / "dangling.wav").symlink_to(outside / "not-yet.wav")
    (root / "up.wav").symlink_to("../outside/secret.wav")
    (root / "passwd").symlink_to("/etc/passwd")
    (root / "self").symlink_to(".")
    for name in ["file.wav", "dir/secret.wav", "dir/new.wav", "dangling.wav", "up.wav", "passwd"]:
        with pytest.raises(UnsafePath):
            storage.resolve(name)
        with pytest.raises(UnsafePath):
            storage.stat(name)
    with pytest.raises(UnsafePath):
        storage.resolve("self")  # the root itself is no file


def test_resolve_refuses_what_is_not_a_regular_file(storage: LocalStorage, root: Path) -> None:
    os.mkfifo(root / "pipe.wav")
    (root / "dir.wav").mkdir()
    (root / "link-to-pipe.wav").symlink_to(root / "pipe.wav")
    for name in ["pipe.wav", "dir.wav", "link-to-pipe.wav"]:
        with pytest.raises(UnsafePath):
            storage.resolve(name)
        with pytest.raises(UnsafePath):
            storage.stat(name)


def test_resolve_refuses_the_null_device_through_a_link(storage: LocalStorage, root: Path) -> None:
    (root / "null.wav").symlink_to("/dev/null")
    with pytest.raises(UnsafePath):
        storage.resolve("null.wav")


def test_stat(storage: LocalStorage, root: Path) -> None:
    (root / "a").mkdir()
    (root / "a" / "x.wav").write_bytes(b"x" * 123)
    os.utime(root / "a" / "x.wav", (1_795_345_220, 1_795_345_220))
    info = storage.stat("a//x.wav")
    assert info is not None
    assert info.path == "a/x.wav"
    assert info.size == 123
    assert info.mtime.tzinfo is UTC
    assert info.mtime.timestamp() == 1_795_345_220
    assert info.sha256 is None
    assert storage.stat("a/missing.wav") is None
    assert storage.stat("missing/x.wav") is None


# -- find() ----------------------------------------------------------------------------------

UNIQUEID = "1795345220.0"


def _touch(root: Path, names: Iterable[str]) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"RIFF")


def test_find_with_the_default_patterns(storage: LocalStorage, root: Path, tmp_path: Path) -> None:
    _touch(
        root,
        [
            # FreePBX/Issabel, dated folders; wav49 is saved as ".WAV".
            f"2026/11/22/in-100-09121234567-20261122-110020-{UNIQUEID}.wav",
            f"2026/11/22/out-09121234567-100-20261122-110020-{UNIQUEID}.WAV",
            f"2026/11/22/q-500-09121234567-20261122-110020-{UNIQUEID}.mp3",
            # Flat spool, older FreePBX/Elastix and the simulator's names.
            f"OUT100-20261122-110020-{UNIQUEID}.gsm",
            f"20261122-110020-in-100-09121234567-{UNIQUEID}.wav",
            # Not this call: other uniqueids, another day, a split-leg file, hidden files.
            "2026/11/22/in-100-09121234567-20261122-110020-1795345220.01.wav",
            "2026/11/22/in-100-09121234567-20261122-110020-11795345220.0.wav",
            f"2026/11/23/in-100-09121234567-20261123-000001-{UNIQUEID}.wav",
            f"2026/11/22/in-100-09121234567-20261122-110020-{UNIQUEID}-in.wav",
            f"2026/11/22/.in-100-0912-{UNIQUEID}.wav",
            f".tamas-upload-{UNIQUEID}.part",
        ],
    )
    (root / f"dir-{UNIQUEID}.d").mkdir()
    (tmp_path / "secret.wav").write_bytes(b"RIFF")
    (root / f"evil-{UNIQUEID}.wav").symlink_to(tmp_path / "secret.wav")
    fields = {"Y": "2026", "m": "11", "d": "22", "uniqueid": UNIQUEID}
    assert storage.find(DEFAULT_PATTERNS, fields) == [
        f"2026/11/22/in-100-09121234567-20261122-110020-{UNIQUEID}.wav",
        f"2026/11/22/out-09121234567-100-20261122-110020-{UNIQUEID}.WAV",
        f"2026/11/22/q-500-09121234567-20261122-110020-{UNIQUEID}.mp3",
        f"20261122-110020-in-100-09121234567-{UNIQUEID}.wav",
        f"OUT100-20261122-110020-{UNIQUEID}.gsm",
    ]
    # Without the date, only the flat pattern applies.
    assert storage.find(DEFAULT_PATTERNS, {"uniqueid": UNIQUEID}) == [
        f"20261122-110020-in-100-09121234567-{UNIQUEID}.wav",
        f"OUT100-20261122-110020-{UNIQUEID}.gsm",
    ]
    assert storage.find(DEFAULT_PATTERNS, {"uniqueid": "1795345999.9"}) == []


def test_find_is_bounded(storage: LocalStorage, root: Path) -> None:
    _touch(root, [f"{i:03}-{UNIQUEID}.wav" for i in range(30)])
    found = storage.find(["*-{uniqueid}.*"], {"uniqueid": UNIQUEID}, limit=10)
    assert len(found) == 10
    assert found == sorted(found)
    assert len(storage.find(["*-{uniqueid}.*"], {"uniqueid": UNIQUEID})) == 30


def test_find_in_a_missing_root(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "not-mounted")
    assert storage.find(DEFAULT_PATTERNS, {"uniqueid": UNIQUEID}) == []


@pytest.mark.parametrize("value", ["*", "?", "[0-9]", "[", "1795*", "**", "[!x]"])
def test_find_matches_field_values_literally(storage: LocalStorage, root: Path, value: str) -> None:
    _touch(root, ["in-100-1.wav", "in-100-x.wav", "in-100-[.wav", f"in-100-{value}.wav"])
    assert storage.find(["in-{src}-{uniqueid}.wav"], {"src": "100", "uniqueid": value}) == [
        f"in-100-{value}.wav"
    ]


@pytest.mark.parametrize("value", ["", ".", "..", "../..", "a/b", "a\\b", "a\x00b"])
def test_find_refuses_field_values_that_are_no_names(storage: LocalStorage, value: str) -> None:
    with pytest.raises(UnsafePath):
        storage.find(DEFAULT_PATTERNS, {"Y": value, "m": "11", "d": "22", "uniqueid": "1"})


@pytest.mark.parametrize("pattern", ["/etc/*", "../*-{uniqueid}.*", "a/../../*"])
def test_find_refuses_patterns_that_leave_the_root(storage: LocalStorage, pattern: str) -> None:
    with pytest.raises(UnsafePath):
        storage.find([pattern], {"uniqueid": UNIQUEID})


# -- save() ----------------------------------------------------------------------------------


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        await asyncio.sleep(0)
        yield part


async def test_save(storage: LocalStorage, root: Path) -> None:
    info = await storage.save("uploads/2026/x.wav", _chunks(b"RIFF", b"1234", b""), 100)
    assert info.path == "uploads/2026/x.wav"
    assert info.size == 8
    assert info.sha256 == hashlib.sha256(b"RIFF1234").hexdigest()
    assert info.mtime.tzinfo is UTC
    assert (root / "uploads" / "2026" / "x.wav").read_bytes() == b"RIFF1234"
    assert _every_name(root) == ["uploads", "uploads/2026", "uploads/2026/x.wav"]


async def test_save_up_to_the_limit_and_not_beyond(storage: LocalStorage, root: Path) -> None:
    info = await storage.save("exact.wav", _chunks(b"a" * 60, b"b" * 40), 100)
    assert info.size == 100
    with pytest.raises(TooLarge) as caught:
        await storage.save("big.wav", _chunks(b"a" * 60, b"b" * 41, b"c" * 10), 100)
    assert caught.value.max_bytes == 100
    assert _every_name(root) == ["exact.wav"]


async def test_save_the_same_content_again(storage: LocalStorage, root: Path) -> None:
    first = await storage.save("x.wav", _chunks(b"RIFF", b"1234"), 100)
    again = await storage.save("x.wav", _chunks(b"RIFF1", b"234"), 100)
    assert again.sha256 == first.sha256
    assert again.size == 8
    assert _every_name(root) == ["x.wav"]


async def test_save_never_overwrites_other_content(storage: LocalStorage, root: Path) -> None:
    await storage.save("x.wav", _chunks(b"RIFF1234"), 100)
    (root / "pbx.wav").write_bytes(b"from the PBX")
    with pytest.raises(FileConflict):
        await storage.save("x.wav", _chunks(b"RIFF9999"), 100)
    with pytest.raises(FileConflict):
        await storage.save("pbx.wav", _chunks(b"upload"), 100)
    assert (root / "x.wav").read_bytes() == b"RIFF1234"
    assert (root / "pbx.wav").read_bytes() == b"from the PBX"
    assert _every_name(root) == ["pbx.wav", "x.wav"]


async def test_save_leaves_nothing_when_the_stream_fails(storage: LocalStorage, root: Path) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"RIFF"
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await storage.save("x.wav", broken(), 100)
    assert _every_name(root) == []


async def test_save_leaves_nothing_when_cancelled(storage: LocalStorage, root: Path) -> None:
    started = asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:
        yield b"RIFF"
        started.set()
        await asyncio.sleep(60)
        yield b"never"

    task = asyncio.create_task(storage.save("x.wav", slow(), 100))
    await asyncio.wait_for(started.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert _every_name(root) == []


@pytest.mark.parametrize("name", ["../x.wav", "/etc/x.wav", "..%2fx.wav", ".x.wav", "a\\b.wav"])
async def test_save_refuses_unsafe_names(storage: LocalStorage, root: Path, name: str) -> None:
    with pytest.raises(UnsafePath):
        await storage.save(name, _chunks(b"RIFF"), 100)
    assert _every_name(root) == []


async def test_save_refuses_a_linked_folder_leading_outside(
    storage: LocalStorage, root: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "uploads").symlink_to(outside)
    (root / "existing.wav").symlink_to(outside / "target.wav")
    for name in ["uploads/x.wav", "uploads/new/x.wav", "existing.wav"]:
        with pytest.raises(UnsafePath):
            await storage.save(name, _chunks(b"RIFF"), 100)
    assert _every_name(outside) == []
