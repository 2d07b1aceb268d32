"""compose.yaml: Tamas's click-to-call defaults landing in the dialplan, and both containers
wired together."""

from __future__ import annotations

import json
import os
import re
from typing import Any
from urllib.parse import urlsplit

import yaml
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import PbxSettings, Settings
from app.originations.service import OriginationService
from tests.asterisk_dev.support import (
    AGI,
    ETC,
    REPO,
    ROOT,
    TRACES,
    UPLOAD,
    check,
)


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return loaded


def with_defaults(text: str) -> str:
    """Compose's ${NAME:-default}, with nothing set in the environment."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", lambda m: m[1], text)


def compose_pbx() -> PbxSettings:
    env = compose()["services"]["tamas"]["environment"]
    (pbx,) = json.loads(with_defaults(env["TAMAS_PBXES"]))
    return PbxSettings.model_validate(pbx)


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """Target in the container -> source."""
    return {v.split(":")[1]: v.split(":")[0] for v in service["volumes"]}


async def test_click_to_call_lands_in_the_dialplan(
    session: AsyncSession, settings: Settings
) -> None:
    pbx = compose_pbx()
    default = PbxSettings(id="x", host="h", username="u", secret=SecretStr("s"))
    assert (pbx.originate_context, pbx.dial_template) == (
        default.originate_context,
        default.dial_template,
    )
    plan = check.Dialplan.read(ETC / "extensions.conf")
    service = OriginationService(session, settings)
    for number, context in (
        ("09121234567", "outbound"),
        ("۰۲۱ ۸۸۷۷ ۶۶۵۵", "outbound"),
        ("+98 912 123 4567", "outbound"),
        ("1002", "agents"),
    ):
        dialled = service.target(number, pbx).dialled
        assert check.find_extension(plan, pbx.originate_context, dialled) == context, number
    # The "9{national}" of a trunk wanting a prefix would need its own pattern.
    nine = pbx.model_copy(update={"dial_template": "9{national}"})
    assert (
        check.find_extension(plan, "from-internal", service.target("09121234567", nine).dialled)
        is None
    )
    assert [s.args for s in plan.steps["outbound"] if s.app == "Dial"] == [
        "PJSIP/${EXTEN}@trunk,60"
    ]
    # The agents' phones start their own calls there too.
    for endpoint in check.sections_of(ETC / "pjsip.conf"):
        if endpoint.get("type") == "endpoint" and endpoint.name.isdigit():
            assert endpoint.get("context") == pbx.originate_context


def test_compose_wires_asterisk_and_tamas_together() -> None:
    services = compose()["services"]
    asterisk, tamas = services["asterisk"], services["tamas"]
    # A pinned release of the Asterisk the recorded traces come from.
    image = re.fullmatch(r"andrius/asterisk:(\d+)\.\d+\.\d+_debian-\w+", asterisk["image"])
    traced = re.search(r"real Asterisk (\d+)\.", (TRACES / "README.md").read_text())
    assert image is not None and traced is not None and image[1] == traced[1]
    # Every config of etc/asterisk where Asterisk reads it, and every mounted file there.
    on_asterisk = mounts(asterisk)
    for conf in ETC.glob("*.conf"):
        assert on_asterisk[f"/etc/asterisk/{conf.name}"] == f"./etc/asterisk/{conf.name}"
    for source in on_asterisk.values():
        assert not source.startswith("./") or (ROOT / source).exists(), source
    assert os.access(UPLOAD, os.X_OK) and os.access(AGI, os.X_OK)
    assert on_asterisk["/usr/local/bin/tamas-upload"] == "./bin/tamas-upload"

    # Tamas logs in as manager.conf's user, with its secret, on its port.
    pbx = compose_pbx()
    manager = {s.name: s for s in check.sections_of(ETC / "manager.conf")}
    assert pbx.username in manager and pbx.username != "general"
    assert pbx.secret.get_secret_value() == manager[pbx.username].get("secret")
    assert (pbx.host, pbx.port) == ("asterisk", int(manager["general"].get("port")))
    # Asterisk asks Tamas (the lookup, the uploads) where it listens, with the PBX's token.
    env = {k: with_defaults(str(v)) for k, v in asterisk["environment"].items()}
    url = urlsplit(env["TAMAS_URL"])
    assert (url.hostname, url.port) == ("tamas", int(tamas["environment"]["TAMAS_PORT"]))
    assert pbx.token is not None and pbx.token.get_secret_value() == env["TAMAS_PBX_TOKEN"]
    extensions = (ETC / "extensions.conf").read_text()
    assert "${ENV(TAMAS_URL)}" in extensions
    # The token is read from the environment where the header is added, by Exec() ([tamas-auth]).
    tamas_conf = (ETC / "extensions_tamas.conf").read_text()
    assert "{ENV(TAMAS_PBX_TOKEN)}" in tamas_conf and "ENV(TAMAS_PBX_TOKEN)" not in extensions

    # Recordings: one volume, the PBX's spool and Tamas's root; the dialplan writes there.
    spool = pbx.spool_prefix.rstrip("/")
    root = tamas["environment"]["TAMAS_RECORDINGS_ROOT"]
    assert mounts(tamas)[root] == on_asterisk[spool] and on_asterisk[spool] in compose()["volumes"]
    plan = check.Dialplan.read(ETC / "extensions.conf")
    (rec,) = [s.args for s in plan.steps["sub-record"] if s.args.startswith("TAMAS_REC=")]
    assert rec.removeprefix("TAMAS_REC=").startswith(pbx.spool_prefix)
    queues = {s.name for s in check.sections_of(ETC / "queues.conf")}
    assert set(pbx.login_queues) <= queues

    # The ports the phones and the calls' audio use, as rtp.conf and pjsip.conf set them.
    (rtp,) = check.sections_of(ETC / "rtp.conf")
    start, end = rtp.get("rtpstart"), rtp.get("rtpend")
    assert f"{start}-{end}:{start}-{end}/udp" in asterisk["ports"]
    (transport,) = [
        s for s in check.sections_of(ETC / "pjsip.conf") if s.get("type") == "transport"
    ]
    sip_port = transport.get("bind").rsplit(":", 1)[1]
    assert f"{sip_port}:{sip_port}/udp" in asterisk["ports"]
    # Tamas's image.
    assert tamas["build"] == {"context": "..", "dockerfile": "Dockerfile"}
    assert (REPO / "Dockerfile").exists()
