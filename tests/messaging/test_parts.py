"""SMS part counting: GSM-7 160/153, UCS-2 (Persian) 70/67; the panel's JavaScript
(screenpop/static/smsparts.js, run by node) gives the same answers as the Python."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from app.messaging.parts import sms_parts

STATIC = Path(__file__).parents[2] / "screenpop" / "static"

# text, encoding, units, parts
CASES: list[tuple[str, str, int, int]] = [
    ("", "gsm7", 0, 1),
    ("Hello", "gsm7", 5, 1),
    ("a" * 160, "gsm7", 160, 1),
    ("a" * 161, "gsm7", 161, 2),
    ("a" * 306, "gsm7", 306, 2),
    ("a" * 307, "gsm7", 307, 3),
    ("€" * 80, "gsm7", 160, 1),  # the extension table: two septets each
    ("[" * 81, "gsm7", 162, 2),
    ("س" * 70, "ucs2", 70, 1),
    ("س" * 71, "ucs2", 71, 2),
    ("س" * 134, "ucs2", 134, 2),
    ("س" * 135, "ucs2", 135, 3),
    ("کد پیگیری شما: ۱۲۳۴۵۶۷۸", "ucs2", 23, 1),
    ("a" * 100 + "ی", "ucs2", 101, 2),  # one Persian letter makes it all UCS-2
    ("😀" * 35, "ucs2", 70, 1),  # beyond the BMP: two UTF-16 units
    ("😀" * 36, "ucs2", 72, 2),
]


@pytest.mark.parametrize(("text", "encoding", "units", "parts"), CASES)
def test_python_counts(text: str, encoding: str, units: int, parts: int) -> None:
    got = sms_parts(text)
    assert (got.encoding, got.units, got.parts) == (encoding, units, parts)
    assert got.remaining == (got.parts * got.per_part - units)


def test_the_panel_counts_the_same() -> None:
    node = shutil.which("node")
    assert node is not None, "node runs the panel's counter"
    script = (
        f"import {{ smsParts }} from {json.dumps((STATIC / 'smsparts.js').as_uri())};"
        "let s = ''; process.stdin.on('data', (d) => (s += d));"
        "process.stdin.on('end', () => console.log(JSON.stringify("
        "JSON.parse(s).map(smsParts))));"
    )
    texts = [c[0] for c in CASES]
    out = subprocess.run(
        [node, "--input-type=module", "-e", script],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert json.loads(out.stdout) == [sms_parts(t).as_dict() for t in texts]
