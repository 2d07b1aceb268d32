"""The recorded AMI traces (copied from a real Asterisk 22 into tests/fixtures/ami)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from telephony.events import extension_of

AMI_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "ami"


def trace_bytes(name: str) -> bytes:
    return (AMI_DIR / f"{name}.ami").read_bytes()


def trace_chunks(name: str) -> list[tuple[bytes, float]]:
    """The recording as it arrived: each recv() chunk with its time."""
    data = trace_bytes(name)
    chunks = []
    for row in (AMI_DIR / f"{name}.ami.idx").read_text().splitlines():
        offset, length, t = row.split("\t")
        chunks.append((data[int(offset) : int(offset) + int(length)], float(t)))
    return chunks


def trace_facts(name: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((AMI_DIR / f"{name}.json").read_text())
    return result


def expected_calls() -> dict[str, list[dict[str, Any]]]:
    result: dict[str, list[dict[str, Any]]] = json.loads((AMI_DIR / "expected.json").read_text())
    return {k: v for k, v in result.items() if not k.startswith("_")}


def call_trace_names() -> list[str]:
    return sorted(expected_calls())


def expected_row(call: Mapping[str, Any]) -> dict[str, Any]:
    """A call as expected.json writes it, from a row-like mapping: a stored calls row, or a
    tracker snapshot through ``dataclasses.asdict`` (its transfers then are mappings too)."""
    row: dict[str, Any] = {
        "direction": call["direction"],
        "number": call["customer_number"],
        "outcome": call["outcome"],
    }
    if call.get("missed_reason"):
        row["missed_reason"] = call["missed_reason"]
    if call["did"]:
        row["did"] = call["did"]
    if call["answered_by"]:
        row["answered_by"] = extension_of(call["answered_by"])
    if call["queue"]:
        row["queue"] = call["queue"]
    if call["transfers"]:
        t = call["transfers"][0]
        row["transfer"] = {
            "kind": t["kind"],
            "from": extension_of(t["from_device"]),
            "to": extension_of(t["to"]),
        }
    return row
