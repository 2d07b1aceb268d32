from __future__ import annotations

import pytest

from telephony.events import device_of, extension_of, is_local


@pytest.mark.parametrize(
    ("channel", "device"),
    [
        ("PJSIP/1001-0000001a", "PJSIP/1001"),
        ("pjsip/1001-0000001a", "PJSIP/1001"),
        ("SIP/1001-00000003", "SIP/1001"),
        ("IAX2/1001-12345", "IAX2/1001"),
        ("PJSIP/trunk-00000077", "PJSIP/trunk"),
        ("PJSIP/my-provider-0000000b", "PJSIP/my-provider"),
        ("DAHDI/i1/09121234567-5", "DAHDI/i1/09121234567"),
        ("Local/1001@from-queue-00000001;1", "Local/1001@from-queue-00000001"),
        ("PJSIP/1001", "PJSIP/1001"),
        ("", ""),
    ],
)
def test_device_of(channel: str, device: str) -> None:
    assert device_of(channel) == device


def test_local_and_extension() -> None:
    assert is_local("Local/1001@from-queue-00000001;2")
    assert not is_local("PJSIP/1001-00000001")
    assert extension_of("PJSIP/1001") == "1001"
    assert extension_of("1002") == "1002"
