"""check.py follows the dialplan as a channel runs it (its small emulator): the shipped
configs send the PBX's token with every lookup and show it to no AMI client; the shape they
had before (issue 21: the header built in [tamas-settings] from a placeholder that
[tamas-site] replaced only afterwards, so every lookup got 401) and other ways to get it
wrong are each caught."""

from __future__ import annotations

import re
from pathlib import Path

from tests.asterisk_dev.support import ETC, TRACES, check, edit

TOKEN = "tok-3f9a2c7d1e"
URL_LINE = " same => n,Set(TAMAS_URL=http://192.0.2.10:8000)\n"
HASHCOMPAT = " same => n,Set(CURLOPT(hashcompat)=yes)\n"


def run(conf_dir: Path) -> check.DialplanRun:
    plan = check.Dialplan.read(conf_dir / "extensions.conf")
    return check.DialplanRun(plan, {"TAMAS_PBX_TOKEN": TOKEN, "TAMAS_URL": "http://t"}).run_all()


def problems(conf_dir: Path) -> list[str]:
    return [p for p in check.check(conf_dir) if "problem" not in p]


def test_the_shipped_dialplan_sends_the_token_and_shows_it_nowhere() -> None:
    assert check.check(ETC) == []
    done = run(ETC)
    assert done.problems == {}
    # What an AMI client with dialplan/call read sees: every step's substituted text
    # (Newexten AppData) and every channel variable set (VarSet). Not the token.
    assert len(done.published) > 100
    assert not [p for p in done.published if TOKEN in p.text]
    # ...while each lookup's CURL() carries it: the header [tamas-auth] adds.
    header = [p for p in done.published if p.kind == "Newexten" and "CURLOPT(httpheader)" in p.text]
    assert header and {p.text for p in header} == {
        "Set(CURLOPT(httpheader)=Authorization: Bearer ${ENV(TAMAS_PBX_TOKEN)})"
    }


def old_shape(etc: Path) -> None:
    """The dialplan as shipped before issue 21."""
    edit(
        etc / "extensions.conf",
        "TAMAS_SITE_URL=${ENV(TAMAS_URL)}\n",
        "TAMAS_SITE_URL=${ENV(TAMAS_URL)}\nTAMAS_SITE_TOKEN=${ENV(TAMAS_PBX_TOKEN)}\n",
    )
    edit(
        etc / "extensions.conf",
        " same => n,Set(TAMAS_URL=${TAMAS_SITE_URL})\n",
        " same => n,Set(TAMAS_URL=${TAMAS_SITE_URL})\n"
        " same => n,Set(TAMAS_TOKEN=${TAMAS_SITE_TOKEN})\n",
    )
    conf = etc / "extensions_tamas.conf"
    edit(conf, URL_LINE, URL_LINE + " same => n,Set(TAMAS_TOKEN=change-me-to-the-pbx-token)\n")
    edit(
        conf,
        HASHCOMPAT,
        HASHCOMPAT + " same => n,Set(CURLOPT(httpheader)=Authorization: Bearer ${TAMAS_TOKEN})\n",
    )
    conf.write_text(conf.read_text().replace(" same => n,Gosub(tamas-auth,s,1)\n", ""))


def line_of(path: Path, text: str) -> int:
    (n,) = [i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line]
    return n


def test_the_old_shape_fails_the_check(etc_copy: Path) -> None:
    old_shape(etc_copy)
    found = problems(etc_copy)
    tamas = etc_copy / "extensions_tamas.conf"
    header = line_of(tamas, "CURLOPT(httpheader)=Authorization: Bearer ${TAMAS_TOKEN}")
    assigned = line_of(etc_copy / "extensions.conf", "Set(TAMAS_TOKEN=${TAMAS_SITE_TOKEN})")
    lookup = line_of(tamas, "/pbx/lookup?")
    # The execution order: the header was built from the placeholder.
    assert (
        f"extensions_tamas.conf:{lookup}: CURLOPT(httpheader) is used here as built at "
        f"extensions_tamas.conf:{header} from ${{TAMAS_TOKEN}}, which "
        f"extensions.conf:{assigned} assigns only later: it still holds the value from before"
    ) in found
    assert any(
        p.startswith(f"extensions_tamas.conf:{lookup}: this CURL() reaches Tamas without")
        and "(Authorization: Bearer change-me-to-the-pbx-token)" in p
        for p in found
    )
    # The secret: in channel variables and a global, hence in VarSet events.
    said = "\n".join(found)
    assert f"extensions.conf:{assigned}: Set(TAMAS_TOKEN=...) puts the PBX's token" in said
    assert "[globals] TAMAS_SITE_TOKEN: a global holding a secret" in said
    leaked = [p for p in run(etc_copy).published if TOKEN in p.text]
    assert {(p.kind, p.step.line) for p in leaked} >= {
        ("VarSet", assigned),
        ("Newexten", assigned),
    }


def test_the_token_read_in_place_still_shows_in_newexten(etc_copy: Path) -> None:
    """Set(CURLOPT(httpheader)=...${ENV(TAMAS_PBX_TOKEN)}) sends the token, but Asterisk
    publishes the step's substituted text: Exec()'s second substitution is needed."""
    conf = etc_copy / "extensions_tamas.conf"
    edit(
        conf,
        "Exec(Set(CURLOPT(httpheader)=Authorization: Bearer ${IF(1?$:)}{ENV(TAMAS_PBX_TOKEN)}))",
        "Set(CURLOPT(httpheader)=Authorization: Bearer ${ENV(TAMAS_PBX_TOKEN)})",
    )
    n = line_of(conf, "Bearer ${ENV(TAMAS_PBX_TOKEN)}")
    assert [p for p in problems(etc_copy) if "token" in p] == [
        f"extensions_tamas.conf:{n}: Set(): the PBX's token is in this step's text once "
        "substituted (Newexten AppData, the console): read it inside the function that uses "
        "it, or where Exec() substitutes a second time"
    ]


def test_any_option_built_before_its_value_is_caught(etc_copy: Path) -> None:
    """The order rule is not about tokens: a user agent built from TAMAS_URL in the settings,
    before [tamas-site] sets the site's address."""
    conf = etc_copy / "extensions_tamas.conf"
    edit(conf, HASHCOMPAT, HASHCOMPAT + " same => n,Set(CURLOPT(useragent)=Tamas ${TAMAS_URL})\n")
    built = line_of(conf, "CURLOPT(useragent)")
    assigned = line_of(etc_copy / "extensions.conf", "Set(TAMAS_URL=${TAMAS_SITE_URL})")
    (found,) = problems(etc_copy)
    assert found == (
        f"extensions_tamas.conf:{line_of(conf, '/pbx/lookup?')}: CURLOPT(useragent) is used "
        f"here as built at extensions_tamas.conf:{built} from ${{TAMAS_URL}}, which "
        f"extensions.conf:{assigned} assigns only later: it still holds the value from before"
    )
    # Built after the address is set: nothing to say.
    edit(conf, " same => n,Set(CURLOPT(useragent)=Tamas ${TAMAS_URL})\n", "")
    edit(
        etc_copy / "extensions.conf",
        " same => n,Set(TAMAS_URL=${TAMAS_SITE_URL})\n",
        " same => n,Set(TAMAS_URL=${TAMAS_SITE_URL})\n"
        " same => n,Set(CURLOPT(useragent)=Tamas ${TAMAS_URL})\n",
    )
    assert problems(etc_copy) == []


def test_no_recorded_ami_stream_holds_a_token() -> None:
    """The recorded streams (tests/fixtures/ami): no token, no token variable. The L* streams
    come from a real Asterisk running the shipped dialplan with compose.yaml's token in its
    environment: its lookups got 200, and what it published of [tamas-auth]'s step is the
    text check.py predicts, with ${ENV(TAMAS_PBX_TOKEN)} not substituted."""
    compose = (ETC.parents[1] / "compose.yaml").read_text()
    match = re.search(r"TAMAS_PBX_TOKEN: \$\{TAMAS_PBX_TOKEN:-([^}]+)\}", compose)
    assert match
    token = match.group(1).encode()
    streams = sorted(TRACES.glob("*.ami"))
    assert len(streams) > 10
    headers: set[bytes] = set()
    for path in streams:
        data = path.read_bytes()
        assert token not in data and b"TAMAS_TOKEN" not in data, path.name
        headers |= set(re.findall(rb"Authorization: [^\r]*", data))
    assert headers == {b"Authorization: Bearer ${ENV(TAMAS_PBX_TOKEN)})"}
