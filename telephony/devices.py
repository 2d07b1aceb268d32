"""Which devices are the business's own phones (internal) and which are trunks: from the
devices Tamas knows (the agents' devices, and those configured for the PBX), not from the
shape of the name, because a PBX may number its trunks like extensions (``PJSIP/1001`` a
trunk, ``PJSIP/reception`` a phone). Only while no device is known at all does the name
decide (``default_is_internal``: an extension-like name is internal).

Pure: the edge loads the devices and replaces them here; the tracker reads ``is_internal``
when a channel appears."""

from __future__ import annotations

from collections.abc import Iterable

from telephony.tracker import default_is_internal


def normalised(device: str) -> str:
    """A device (never a channel: its name is kept whole) with the technology in capitals,
    as ``telephony.events.device_of`` gives it: ``pjsip/1001`` is ``PJSIP/1001``."""
    name = device.strip()
    tech, sep, resource = name.partition("/")
    return f"{tech.upper()}{sep}{resource}" if sep else name


class KnownDevices:
    """The internal devices of one PBX, replaced whole when the configuration changes."""

    def __init__(self, devices: Iterable[str] = ()) -> None:
        self._devices = frozenset(normalised(d) for d in devices if d.strip())

    @property
    def devices(self) -> frozenset[str]:
        return self._devices

    def replace(self, devices: Iterable[str]) -> bool:
        """Take this set from now on; whether it changed."""
        new = frozenset(normalised(d) for d in devices if d.strip())
        changed = new != self._devices
        self._devices = new
        return changed

    def is_internal(self, device: str) -> bool:
        if not self._devices:
            return default_is_internal(device)
        return normalised(device) in self._devices
