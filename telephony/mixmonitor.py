"""What the PBX says about recordings outside the call snapshots: the file a ``Cdr`` event
names, and MixMonitor's starts and stops per channel."""

from __future__ import annotations

from telephony.events import AmiEvent
from telephony.model import RecordingNote

_AUDIO = (".wav", ".wav49", ".gsm", ".mp3", ".ogg", ".opus", ".sln", ".ulaw", ".alaw")


def recording_of_cdr(event: AmiEvent) -> RecordingNote | None:
    """The recording a ``Cdr`` event names: FreePBX's ``recordingfile`` column when the
    cdr_manager mapping sends it, else a file name in ``UserField``, where dialplans that
    record often put it."""
    for key in ("recordingfile", "RecordingFile", "UserField"):
        value = event.get(key).strip()
        if value and value.lower().endswith(_AUDIO) and event.get("UniqueID"):
            return RecordingNote(event.pbx, event.get("UniqueID"), value, "cdr", event.at)
    return None


_NOTED = frozenset({"VarSet", "Hangup", "MixMonitorStop", "MixMonitorStart"})


class MixMonitorFiles:
    """Which file each channel's MixMonitor writes, to tell what a ``MixMonitorStart`` or
    ``MixMonitorStop`` is about: those events name the channel, not the file, and
    ``MixMonitor()`` sets the channel's ``MIXMONITOR_FILENAME`` just before it starts.

    Asterisk sends ``MixMonitorStop`` only for ``StopMixMonitor`` (the application, the AMI
    action, the CLI), after closing the file: the recording is then whole, even with the call
    still up. A recording that ends with the channel's hangup has no such event. FreePBX's
    one-touch recording starts MixMonitor again on the same file (appending), hence a
    ``MixMonitorStart`` note too, for a channel whose recording was stopped before."""

    def __init__(self) -> None:
        self._files: dict[str, str] = {}
        self._stopped: set[str] = set()

    def note(self, event: AmiEvent) -> RecordingNote | None:
        if event.name not in _NOTED:
            return None  # every event passes here: most are none of these
        if event.name == "VarSet" and event.get("Variable") != "MIXMONITOR_FILENAME":
            return None  # half the stream is VarSets, of other variables
        uniqueid = event.uniqueid
        if not uniqueid:
            return None
        if event.name == "VarSet":
            if event.get("Value"):
                self._files[uniqueid] = event.get("Value")
        elif event.name == "Hangup":
            self._files.pop(uniqueid, None)
            self._stopped.discard(uniqueid)
        elif event.name == "MixMonitorStop":
            self._stopped.add(uniqueid)
            # An empty path: a recording started before Tamas was listening.
            path = self._files.get(uniqueid, "")
            return RecordingNote(event.pbx, uniqueid, path, "stop", event.at)
        elif event.name == "MixMonitorStart" and uniqueid in self._stopped:
            self._stopped.discard(uniqueid)
            path = self._files.get(uniqueid, "")
            return RecordingNote(event.pbx, uniqueid, path, "start", event.at) if path else None
        return None

    def keep(self, uniqueids: set[str]) -> None:
        """After a resync: forget the channels that are gone (their Hangup was missed)."""
        self._files = {u: f for u, f in self._files.items() if u in uniqueids}
        self._stopped &= uniqueids
