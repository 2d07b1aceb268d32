"""The settings of the recordings' API tests: one PBX with an upload token, the recordings
root (and data folder) in the test's own temporary folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from app.config import Settings
from tests.fixtures.pbx import pbx_calling_with
from tests.recordings.support import PBX, UPLOAD_TOKEN


@pytest.fixture
def conf(settings: Settings, tmp_path: Path) -> Settings:
    pbx = pbx_calling_with(PBX, UPLOAD_TOKEN)
    return settings.model_copy(
        update={"pbxes": [pbx], "recordings_root": tmp_path / "spool", "data_dir": tmp_path}
    )


@pytest.fixture
def app_conf(app: FastAPI, conf: Settings) -> Iterator[Settings]:
    """The running app reads its settings per request: point it at this test's."""
    before = app.state.settings
    app.state.settings = conf
    yield conf
    app.state.settings = before
