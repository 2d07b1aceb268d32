"""The running service's trackers go by the agents' devices read from the database and the
PBX's configured ones (numbered trunks are trunks), and learn a device added later."""

from __future__ import annotations

from app.config import Settings
from app.db import Database, unit_of_work
from app.models import Role
from telephony.simulator import AmiSimulator
from tests.fixtures.factories import make_user
from tests.screenpop.support import eventually, follows, instance_settings, serving, team


async def test_the_trackers_know_the_agents_devices(
    db: Database, sim: AmiSimulator, settings: Settings
) -> None:
    assert db.sessionmaker is not None
    await team(db, settings)  # agents on PJSIP/1001 to 1003
    conf = instance_settings(settings, db, sim)
    pbx = conf.pbxes[0].model_copy(update={"internal_devices": ["PJSIP/reception"]})
    conf = conf.model_copy(update={"pbxes": [pbx], "device_refresh_seconds": 1.0})
    async with serving(conf) as (_port, app):
        await eventually(lambda: follows(app))
        tracker = app.state.leadership.listeners[pbx.id].tracker
        assert tracker.is_internal("PJSIP/1001") and tracker.is_internal("PJSIP/reception")
        assert not tracker.is_internal("PJSIP/1004")  # extension-shaped, nobody's: a trunk
        async with unit_of_work(db.sessionmaker) as session:
            await make_user(session, Role.agent, username="new", devices=["PJSIP/1004"])

        async def learnt() -> bool:
            return bool(tracker.is_internal("PJSIP/1004"))

        await eventually(learnt)
