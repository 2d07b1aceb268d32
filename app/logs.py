"""Keeping secrets out of the logs."""

from __future__ import annotations

import logging
import re

_TOKEN_IN_QUERY = re.compile(r"(?i)([?&](?:token|secret|password)=)[^&\s]*")


def redact(text: str) -> str:
    """``/pbx/lookup?number=1&token=abc`` -> ``/pbx/lookup?number=1&token=***``."""
    return _TOKEN_IN_QUERY.sub(r"\1***", text)


class RedactQuerySecrets(logging.Filter):
    """For uvicorn's access log: a PBX whose CURL() cannot send headers puts its token in the
    query string, which the access log would otherwise print."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def install() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactQuerySecrets) for f in access.filters):
        access.addFilter(RedactQuerySecrets())
