#!/usr/bin/env python3
"""Real SIP calls through an Asterisk running asterisk-dev/etc, recorded as AMI traces.

Phones (pjsua2, SIP over UDP, null audio): the three agents' phones 1001-1003 register and
answer, ring on or decline as each scenario says; the "customer" softphone calls in through
from-trunk; a carrier (no registration, at the address the trunk names: run-asterisk's
CARRIER) answers the calls the PBX sends out, and calls in itself from a known customer's
number (P-Asserted-Identity). The phones' streams are fed from the null sound device, so
RTP and RFC 4733 DTMF flow (the survey's keys, the queue callback's 1). Click-to-call,
pauses, the supervisor's listen and the known customers go through Tamas's API, as the
panels send them; the agents, the supervisor and admin share --tamas-password.

While a scenario runs, one AMI connection (the user Tamas uses, Events: on) records every
byte the PBX sends and every byte sent to it, in the format of tests/fixtures/ami/README.md:

    OUT/NAME.ami  NAME.ami.idx  NAME.sent.ami  NAME.sent.ami.idx  NAME.json

NAME.json holds what the phones saw (each SIP dialog's states, with times from the
scenario's start), what a call log should show (crm_call_log) and, for some scenarios,
what Tamas's API answered afterwards (tamas: the spy session, the callbacks).

    pip install pjsua2-python   # (a venv of its own; pjproject 2.15 or newer)
    python3 phones.py --pbx 127.0.0.1 --carrier 127.0.0.2:5070 \\
        --ami-secret dev-ami-secret-change-me --tamas http://127.0.0.1:8000 \\
        --out traces direct_answered

Passwords default to the development ones of pjsip.conf; `--list` names the scenarios.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import threading
import time
import traceback
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pjsua2 as pj

AGENTS = ("1001", "1002", "1003")
Policy = tuple[Any, ...]


class AmiRecorder(threading.Thread):
    """One AMI connection: every byte received and sent, with the time of each recv()."""

    def __init__(self, host: str, port: int, username: str, secret: str, base: Path) -> None:
        super().__init__(daemon=True)
        self.sock = socket.create_connection((host, port), timeout=10)
        self.sock.settimeout(None)
        self.base = base
        self.received = bytearray()
        self.recv_idx: list[tuple[int, int, float]] = []
        self.sent = bytearray()
        self.sent_idx: list[tuple[int, int, float]] = []
        self.lock = threading.Lock()
        self.closed = threading.Event()
        self.login_time = time.time()
        self.start()
        self.send(
            f"Action: Login\r\nActionID: rec-login\r\nUsername: {username}\r\n"
            f"Secret: {secret}\r\nEvents: on\r\n\r\n"
        )

    def run(self) -> None:
        while True:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            with self.lock:
                self.recv_idx.append((len(self.received), len(chunk), time.time()))
                self.received += chunk
        self.closed.set()

    def send(self, text: str) -> None:
        data = text.encode()
        with self.lock:
            self.sent_idx.append((len(self.sent), len(data), time.time()))
            self.sent += data
        self.sock.sendall(data)

    def text(self) -> str:
        with self.lock:
            return self.received.decode("utf-8", "replace")

    def close(self) -> float:
        self.send("Action: Logoff\r\nActionID: rec-logoff\r\n\r\n")
        self.closed.wait(10)
        self.sock.close()
        for suffix, data, idx in (
            (".ami", self.received, self.recv_idx),
            (".sent.ami", self.sent, self.sent_idx),
        ):
            Path(f"{self.base}{suffix}").write_bytes(bytes(data))
            Path(f"{self.base}{suffix}.idx").write_text(
                "".join(f"{o}\t{n}\t{t:.6f}\n" for o, n, t in idx)
            )
        return time.time()


@dataclass
class Leg:
    """One SIP dialog as a phone saw it."""

    ua: str
    direction: str
    remote: str = ""
    created_t: float = 0.0
    connected_t: float | None = None
    ended_t: float | None = None
    final_status: int | None = None
    final_reason: str = ""
    hangup_by_this_ua: bool = False
    states: list[dict[str, Any]] = field(default_factory=list)
    transfer_notify: list[dict[str, Any]] = field(default_factory=list)


class Call(pj.Call):
    def __init__(self, phone: Phone, leg: Leg, call_id: int = pj.PJSUA_INVALID_ID) -> None:
        super().__init__(phone, call_id)
        self.phone = phone
        self.leg = leg

    def onCallState(self, prm: Any) -> None:  # pjsua2 names the callbacks
        info = self.getInfo()
        t = self.phone.run.now()
        self.leg.remote = info.remoteUri
        self.leg.states.append({"t": t, "state": info.stateText, "status": info.lastStatusCode})
        if info.state == pj.PJSIP_INV_STATE_CONFIRMED and self.leg.connected_t is None:
            self.leg.connected_t = t
            self.phone.run.on_connected(self)
        if info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.leg.ended_t = t
            self.leg.final_status = info.lastStatusCode
            self.leg.final_reason = info.lastReason
            self.phone.run.log(f"{self.leg.ua} {self.leg.direction} ended {info.lastStatusCode}")

    def onCallTransferStatus(self, prm: Any) -> None:
        t = self.phone.run.now()
        self.leg.transfer_notify.append(
            {"t": t, "status": prm.statusCode, "final": prm.finalNotify}
        )
        if prm.finalNotify and prm.statusCode // 100 == 2:
            # As a desk phone does: the transfer went through, so the transferer hangs up
            # (Asterisk waits for the BYE).
            self.phone.run.log(f"{self.leg.ua} transfer accepted {prm.statusCode}: hangs up")
            self.end()

    def onCallMediaState(self, prm: Any) -> None:
        # The call's stream sends RTP (and RFC 4733 DTMF) only while something feeds it:
        # the null sound device, both ways.
        info = self.getInfo()
        for i, media in enumerate(info.media):
            if media.type == pj.PJMEDIA_TYPE_AUDIO and media.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                audio = self.getAudioMedia(i)
                devices = self.phone.run.ep.audDevManager()
                devices.getCaptureDevMedia().startTransmit(audio)
                audio.startTransmit(devices.getPlaybackDevMedia())

    def end(self, code: int = 0) -> None:
        if self.leg.ended_t is None:
            self.leg.hangup_by_this_ua = True
            op = pj.CallOpParam()
            if code:
                op.statusCode = code
            self.hangup(op)


class Phone(pj.Account):
    def __init__(self, run: Run, ua: str) -> None:
        super().__init__()
        self.run = run
        self.ua = ua

    def onIncomingCall(self, prm: Any) -> None:
        leg = Leg(self.ua, "in", created_t=self.run.now())
        call = Call(self, leg, prm.callId)
        self.run.legs.append(leg)
        self.run.calls.append(call)
        self.run.log(f"{self.ua} rings")
        ring = pj.CallOpParam()
        ring.statusCode = 180
        call.answer(ring)
        self.run.on_incoming(self, call)


class Run:
    """The phones, the AMI recorder and a clock; scenarios drive them."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.t0 = time.time()
        self.legs: list[Leg] = []
        self.calls: list[Call] = []
        self.timeline: list[dict[str, Any]] = []
        self.timers: list[tuple[float, Callable[[], None]]] = []
        # What each agent's phone does with the next call: ("answer", after_s[, hangup_s]),
        # ("decline", after_s, code), ("ring",) (rings until the PBX gives up).
        self.policy: dict[str, Policy] = {}
        # What Tamas's API answered that the scenario wants kept (NAME.json's "tamas").
        self.answers: dict[str, Any] = {}
        self.ep = pj.Endpoint()
        self.ep.libCreate()
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 0
        cfg.uaConfig.mainThreadOnly = True
        cfg.uaConfig.userAgent = "tamas-live-phone"
        cfg.logConfig.level = 1
        cfg.logConfig.consoleLevel = 1
        cfg.medConfig.noVad = True
        self.ep.libInit(cfg)
        self.ep.audDevManager().setNullDev()
        self.phones: dict[str, Phone] = {}
        self.ep.libStart()
        pbx = f"{args.pbx}:{args.pbx_port}"
        for n, ext in enumerate(AGENTS):
            self.phones[ext] = self._phone(ext, args.phone_ip, args.phone_port + n, pbx, True)
        self.phones["customer"] = self._phone(
            "customer", args.phone_ip, args.phone_port + len(AGENTS), pbx, True
        )
        carrier_ip, carrier_port = args.carrier.rsplit(":", 1)
        self.phones["carrier"] = self._phone("carrier", carrier_ip, int(carrier_port), pbx, False)
        self.pump_until(lambda: all(self._registered(u) for u in (*AGENTS, "customer")), 15)

    def _phone(self, ua: str, ip: str, port: int, pbx: str, register: bool) -> Phone:
        tcfg = pj.TransportConfig()
        tcfg.port = port
        tcfg.boundAddress = ip
        tid = self.ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
        acfg = pj.AccountConfig()
        acfg.sipConfig.transportId = tid
        if register:
            acfg.idUri = f"sip:{ua}@{self.args.pbx}"
            acfg.regConfig.registrarUri = f"sip:{pbx}"
            password = self.args.password_template.format(user=ua)
            acfg.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", ua, 0, password))
        else:
            acfg.idUri = f"sip:{ua}@{ip}:{port}"
        phone = Phone(self, ua)
        phone.create(acfg)
        return phone

    def _registered(self, ua: str) -> bool:
        info = self.phones[ua].getInfo()
        return bool(info.regIsActive)

    def now(self) -> float:
        return round(time.time() - self.t0, 3)

    def log(self, what: str) -> None:
        self.timeline.append({"t": self.now(), "what": what})

    def after(self, seconds: float, fn: Callable[[], None]) -> None:
        self.timers.append((time.time() + seconds, fn))

    def pump(self, seconds: float) -> None:
        self.pump_until(lambda: False, seconds, quiet=True)

    def pump_until(self, done: Callable[[], bool], within: float, quiet: bool = False) -> None:
        deadline = time.time() + within
        while not done():
            if time.time() > deadline:
                if quiet:
                    return
                open_legs = [(x.ua, x.direction) for x in self.legs if x.ended_t is None]
                raise SystemExit(f"timed out after {within} s; legs not ended: {open_legs}")
            self.ep.libHandleEvents(10)
            due = [x for x in self.timers if x[0] <= time.time()]
            for x in due:
                self.timers.remove(x)
                x[1]()

    def on_incoming(self, phone: Phone, call: Call) -> None:
        rule = self.policy.get(phone.ua, ("ring",))
        if rule[0] == "answer":

            def answer() -> None:
                if call.leg.ended_t is None:
                    op = pj.CallOpParam()
                    op.statusCode = 200
                    call.answer(op)
                    self.log(f"{phone.ua} answers")

            self.after(rule[1], answer)
        elif rule[0] == "decline":

            def decline() -> None:
                self.log(f"{phone.ua} declines {rule[2]}")
                call.end(rule[2])

            self.after(rule[1], decline)

    def on_connected(self, call: Call) -> None:
        self.log(f"{call.leg.ua} {call.leg.direction} connected")
        rule = self.policy.get(call.leg.ua, ())
        if call.leg.direction == "in" and len(rule) > 2 and rule[0] == "answer":
            self.after(rule[2], lambda: (self.log(f"{call.leg.ua} hangs up"), call.end()))

    def dial(self, ua: str, number: str) -> Call:
        leg = Leg(ua, "out", created_t=self.now())
        call = Call(self.phones[ua], leg)
        self.legs.append(leg)
        self.calls.append(call)
        self.log(f"{ua} dials {number}")
        call.makeCall(f"sip:{number}@{self.args.pbx}:{self.args.pbx_port}", pj.CallOpParam(True))
        return call

    def keys(self, call: Call, digits: str) -> None:
        """DTMF as RTP events (RFC 4733), the PJSIP endpoints' dtmf_mode."""
        self.log(f"{call.leg.ua} keys {digits}")
        call.dialDtmf(digits)

    def idle(self) -> bool:
        return all(leg.ended_t is not None for leg in self.legs)

    def leg_of(self, ua: str) -> Leg | None:
        return next((leg for leg in self.legs if leg.ua == ua), None)

    def api(self, method: str, path: str, body: dict[str, Any] | None, user: str) -> Any:
        token = self._token(user)
        request = urllib.request.Request(
            self.args.tamas + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            answer = json.loads(response.read() or b"null")
        self.log(f"API {method} {path} as {user}")
        return answer

    def _token(self, user: str) -> str:
        request = urllib.request.Request(
            self.args.tamas + "/api/auth/token",
            data=json.dumps({"username": user, "password": self.args.tamas_password}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return str(json.loads(response.read())["access_token"])

    def close(self) -> None:
        for call in self.calls:
            call.end()
        # Unregistered: a registration left behind is qualified "Unreachable" by the PBX,
        # which then refuses to dial the phone until the next qualify after it re-registers.
        for phone in self.phones.values():
            if phone.getInfo().regIsActive:
                phone.setRegistration(False)
        self.pump(1)
        # Not libDestroy(): pjsua2's Python objects die after the library and it aborts.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


# -- the scenarios ----------------------------------------------------------------------
# Each returns (description, did, crm_call_log): what happened and what a call log shows.


def direct_answered(run: Run) -> tuple[str, str, dict[str, Any]]:
    run.policy = {"1001": ("answer", 2.0)}
    call = run.dial("customer", "100")
    run.pump_until(lambda: call.leg.connected_t is not None, 30)
    run.pump(3.0)
    run.log("customer hangs up")
    call.end()
    run.pump_until(run.idle, 15)
    return (
        "customer -> DID 100 -> Dial(PJSIP/1001,20); 1001 answers after 2 s; 3 s of talk; "
        "the customer hangs up",
        "100",
        {"outcome": "answered", "answered_by": "1001", "wait_s": 2.0, "talk_s": 3.0},
    )


def direct_noanswer(run: Run) -> tuple[str, str, dict[str, Any]]:
    run.policy = {"1001": ("ring",)}
    run.dial("customer", "100")
    run.pump_until(run.idle, 40)
    return (
        "customer -> DID 100; 1001 rings and never answers; Dial gives up after 20 s",
        "100",
        {"outcome": "missed", "missed_reason": "no_answer", "wait_s": 20.0},
    )


def direct_declined(run: Run) -> tuple[str, str, dict[str, Any]]:
    run.policy = {"1001": ("decline", 1.5, 486)}
    run.dial("customer", "100")
    run.pump_until(run.idle, 30)
    return (
        "customer -> DID 100; 1001 rings 1.5 s, then declines with 486 Busy Here",
        "100",
        {"outcome": "missed", "missed_reason": "declined", "wait_s": 1.5},
    )


def queue_answered(run: Run) -> tuple[str, str, dict[str, Any]]:
    run.policy = {"1001": ("ring",), "1002": ("answer", 3.0, 4.0), "1003": ("ring",)}
    call = run.dial("customer", "200")
    run.pump_until(lambda: (run.leg_of("1002") or Leg("", "")).ended_t is not None, 60)
    # The survey follows the agent's hangup ([tamas-survey]); the caller leaves it.
    run.pump(2.0)
    run.log("customer hangs up")
    call.end()
    run.pump_until(run.idle, 15)
    return (
        "customer -> DID 200 -> the lookup (an unknown caller) -> Queue(support); 1001, 1002 "
        "and 1003 ring; 1002 answers after 3 s; 4 s of talk; 1002 hangs up; the caller is in "
        "the survey 2 s, then hangs up",
        "200",
        {
            "outcome": "answered",
            "answered_by": "1002",
            "queue": "support",
            "wait_s": 3.0,
            "talk_s": 4.0,
        },
    )


def click_to_call(run: Run) -> tuple[str, str, dict[str, Any]]:
    run.policy = {"1001": ("answer", 1.5), "carrier": ("answer", 2.0, 3.0)}
    answer = run.api("POST", "/api/originations", {"number": "09121234567"}, "sara")
    run.log(f"origination {answer['id']} {answer['state']}")
    run.pump_until(lambda: (run.leg_of("carrier") or Leg("", "")).ended_t is not None, 60)
    run.pump_until(run.idle, 15)
    return (
        "sara's click-to-call of 09121234567 (POST /api/originations): 1001 rings and answers "
        "after 1.5 s; the PBX dials the trunk; the carrier answers after 2 s; 3 s of talk; the "
        "carrier hangs up",
        "",
        {"outcome": "answered", "answered_by": "1001", "talk_s": 3.0},
    )


def paused_queue(run: Run) -> tuple[str, str, dict[str, Any]]:
    run.api("POST", "/api/agent/pause", {"reason": run.args.pause_reason}, "reza")
    run.pump(1.0)
    run.policy = {"1001": ("ring",), "1002": ("answer", 0.5), "1003": ("answer", 2.0)}
    call = run.dial("customer", "200")
    run.pump_until(lambda: call.leg.connected_t is not None, 30)
    run.pump_until(lambda: (run.leg_of("1003") or Leg("", "")).connected_t is not None, 30)
    run.pump(2.0)
    run.log("customer hangs up")
    call.end()
    run.pump_until(run.idle, 15)
    run.api("POST", "/api/agent/unpause", None, "reza")
    run.pump(1.0)
    return (
        "reza pauses (POST /api/agent/pause); customer -> DID 200 -> Queue(support); 1001 "
        "and 1003 ring, 1002 (paused) does not; 1003 answers after 2 s; 2 s of talk; the "
        "customer hangs up; reza unpauses (POST /api/agent/unpause)",
        "200",
        {
            "outcome": "answered",
            "answered_by": "1003",
            "queue": "support",
            "wait_s": 2.0,
            "talk_s": 2.0,
        },
    )


def survey(run: Run) -> tuple[str, str, dict[str, Any]]:
    run.policy = {"1001": ("answer", 2.0, 3.0), "1002": ("ring",), "1003": ("ring",)}
    call = run.dial("customer", "200")
    run.pump_until(lambda: (run.leg_of("1001") or Leg("", "")).ended_t is not None, 60)
    # [tamas-survey]: a 0.6 s prompt, then Read() waits 5 s for one key (RFC 4733 DTMF).
    run.pump(1.0)
    run.keys(call, "4")
    run.pump(1.5)
    run.keys(call, "2")
    run.pump(0.5)
    run.log("customer hangs up")
    call.end()
    run.pump_until(run.idle, 15)
    return (
        "customer -> DID 200 -> Queue(support,c); 1001, 1002 and 1003 ring; 1001 answers "
        "after 2 s; 3 s of talk; 1001 hangs up; the caller stays for [tamas-survey], keys 4 "
        "1 s later and 2 1.5 s after that, then hangs up during the thanks",
        "200",
        {
            "outcome": "answered",
            "answered_by": "1001",
            "queue": "support",
            "wait_s": 2.0,
            "talk_s": 3.0,
            "survey": {"q1": 4, "q2": 2},
        },
    )


def blind_transfer(run: Run) -> tuple[str, str, dict[str, Any]]:
    run.policy = {"1001": ("answer", 2.0), "1002": ("answer", 1.5)}
    call = run.dial("customer", "100")
    run.pump_until(lambda: call.leg.connected_t is not None, 30)
    run.pump(2.0)
    [sara] = [c for c in run.calls if c.leg.ua == "1001"]
    run.log("1001 transfers to 1002 (REFER)")
    sara.xfer(f"sip:1002@{run.args.pbx}:{run.args.pbx_port}", pj.CallOpParam(True))
    run.pump_until(lambda: (run.leg_of("1002") or Leg("", "")).connected_t is not None, 30)
    run.pump(2.0)
    run.log("customer hangs up")
    call.end()
    run.pump_until(run.idle, 15)
    return (
        "customer -> DID 100 -> Dial(PJSIP/1001,20); 1001 answers after 2 s; 2 s of talk; "
        "1001 blind-transfers to 1002 (REFER, Refer-To 1002); 1002 answers after 1.5 s; 2 s "
        "of talk; the customer hangs up",
        "100",
        {
            "outcome": "answered",
            "answered_by": "1001",
            "wait_s": 2.0,
            "transfer": {"kind": "blind", "from": "1001", "to": "1002"},
        },
    )


def attended_transfer(run: Run) -> tuple[str, str, dict[str, Any]]:
    run.policy = {"1001": ("answer", 2.0), "1003": ("answer", 1.5)}
    call = run.dial("customer", "100")
    run.pump_until(lambda: call.leg.connected_t is not None, 30)
    run.pump(2.0)
    [sara] = [c for c in run.calls if c.leg.ua == "1001"]
    run.log("1001 puts the customer on hold")
    sara.setHold(pj.CallOpParam(True))
    run.pump(1.0)
    consult = run.dial("1001", "1003")
    run.pump_until(lambda: consult.leg.connected_t is not None, 30)
    run.pump(2.0)
    run.log("1001 transfers the customer to 1003 (REFER with Replaces)")
    sara.xferReplaces(consult, pj.CallOpParam(True))
    run.pump_until(lambda: sara.leg.ended_t is not None, 15)
    run.pump(2.0)
    run.log("customer hangs up")
    call.end()
    run.pump_until(run.idle, 15)
    return (
        "customer -> DID 100 -> Dial(PJSIP/1001,20); 1001 answers after 2 s; 2 s of talk; "
        "1001 holds the customer and calls 1003, who answers after 1.5 s; 2 s later 1001 "
        "transfers (REFER with Replaces); the customer and 1003 talk 2 s; the customer hangs up",
        "100",
        {
            "outcome": "answered",
            "answered_by": "1001",
            "wait_s": 2.0,
            "transfer": {"kind": "attended", "from": "1001", "to": "1003"},
        },
    )


def known_customer(run: Run, name: str, number: str, **fields: Any) -> int:
    """A customer of Tamas with this number (created once, through the API, as a
    supervisor); a contract given as ``contract`` (level, starts, ends) is added to them."""
    user = run.args.supervisor
    found = run.api("GET", f"/api/customers?q={number}", None, user)["items"]
    if found:
        return int(found[0]["id"])
    contract = fields.pop("contract", None)
    body = {"name": name, "phones": [{"number": number, "label": "mobile"}], **fields}
    customer = int(run.api("POST", "/api/customers", body, user)["id"])
    if contract:
        level, starts, ends = contract
        body = {"level": level, "starts_on": starts, "ends_on": ends}
        run.api("POST", f"/api/customers/{customer}/contracts", body, user)
    return customer


def dial_in(run: Run, number: str, did: str) -> Call:
    """The carrier calls the DID from ``number`` (P-Asserted-Identity: the trunk trusts it)."""
    leg = Leg("carrier", "out", created_t=run.now())
    call = Call(run.phones["carrier"], leg)
    run.legs.append(leg)
    run.calls.append(call)
    run.log(f"carrier dials {did} from {number}")
    op = pj.CallOpParam(True)
    header = pj.SipHeader()
    header.hName = "P-Asserted-Identity"
    header.hValue = f"<sip:{number}@{run.args.carrier.rsplit(':', 1)[0]}>"
    op.txOption.headers.append(header)
    call.makeCall(f"sip:{did}@{run.args.pbx}:{run.args.pbx_port}", op)
    return call


VIP_NUMBER, VIP_NAME = "09351112233", "پریسا تهرانی"
EXPIRED_NUMBER, EXPIRED_NAME = "09352223344", "Kaveh Moradi"
ASSIGNED_NUMBER, ASSIGNED_NAME = "09353334455", "Nima Jafari"


def lookup_vip(run: Run) -> tuple[str, str, dict[str, Any]]:
    known_customer(run, VIP_NAME, VIP_NUMBER, priority="VIP", company="Tehran Steel")
    run.pump(0.5)
    run.policy = {"1001": ("ring",), "1002": ("answer", 2.0), "1003": ("ring",)}
    call = dial_in(run, VIP_NUMBER, "200")
    run.pump_until(lambda: call.leg.connected_t is not None, 30)
    run.pump_until(lambda: (run.leg_of("1002") or Leg("", "")).connected_t is not None, 30)
    run.pump(2.0)
    run.log("carrier hangs up")
    call.end()
    run.pump_until(run.idle, 15)
    return (
        f"the carrier calls DID 200 from {VIP_NUMBER}, a VIP customer of Tamas; the lookup "
        "names them and sends the call to Queue(support-vip,c); 1001-1003 ring; 1002 answers "
        "after 2 s; 2 s of talk; the caller hangs up",
        "200",
        {
            "outcome": "answered",
            "answered_by": "1002",
            "queue": "support-vip",
            "wait_s": 2.0,
            "talk_s": 2.0,
            "caller_name": VIP_NAME,
            "number": VIP_NUMBER,
        },
    )


def lookup_expired(run: Run) -> tuple[str, str, dict[str, Any]]:
    known_customer(run, EXPIRED_NAME, EXPIRED_NUMBER, contract=("gold", "2025-01-01", "2025-12-31"))
    run.pump(0.5)
    run.policy = {"1003": ("answer", 2.0)}
    call = dial_in(run, EXPIRED_NUMBER, "200")
    run.pump_until(lambda: (run.leg_of("1003") or Leg("", "")).connected_t is not None, 30)
    run.pump(2.0)
    run.log("carrier hangs up")
    call.end()
    run.pump_until(run.idle, 15)
    return (
        f"the carrier calls DID 200 from {EXPIRED_NUMBER}, a customer whose contract ended "
        "2025-12-31; the lookup names them, the caller hears custom/tamas-contract-ended, then "
        "Queue(sales,c); 1003 (its one member) answers after 2 s; 2 s of talk; the caller "
        "hangs up",
        "200",
        {
            "outcome": "answered",
            "answered_by": "1003",
            "queue": "sales",
            "talk_s": 2.0,
            "caller_name": EXPIRED_NAME,
            "number": EXPIRED_NUMBER,
        },
    )


def lookup_assigned(run: Run) -> tuple[str, str, dict[str, Any]]:
    users = run.api("GET", "/api/users", None, "admin")
    [sara] = [u["id"] for u in users if "PJSIP/1001" in u["devices"]]
    known_customer(run, ASSIGNED_NAME, ASSIGNED_NUMBER, owner_id=sara)
    run.pump(0.5)
    run.policy = {"1001": ("ring",), "1002": ("answer", 2.0), "1003": ("ring",)}
    call = dial_in(run, ASSIGNED_NUMBER, "200")
    run.pump_until(lambda: (run.leg_of("1002") or Leg("", "")).connected_t is not None, 60)
    run.pump(2.0)
    run.log("carrier hangs up")
    call.end()
    run.pump_until(run.idle, 15)
    return (
        f"the carrier calls DID 200 from {ASSIGNED_NUMBER}, a customer whose assigned agent "
        "is sara; the lookup names them with agent_extension 1001; Dial(PJSIP/1001,20,g) rings "
        "1001 20 s unanswered; then Queue(support,c): 1001-1003 ring, 1002 answers after 2 s; "
        "2 s of talk; the caller hangs up",
        "200",
        {
            "outcome": "answered",
            "answered_by": "1002",
            "queue": "support",
            "wait_s": 22.0,
            "talk_s": 2.0,
            "caller_name": ASSIGNED_NAME,
            "number": ASSIGNED_NUMBER,
        },
    )


def queue_callback(run: Run) -> tuple[str, str, dict[str, Any]]:
    run.policy = {"1001": ("ring",), "1002": ("ring",), "1003": ("ring",)}
    call = run.dial("customer", "200")
    run.pump_until(lambda: len([x for x in run.legs if x.ua in AGENTS]) == 3, 30)
    # queues.conf: context=tamas-queue-callback, so one key that is an extension there
    # takes the caller out of the queue at any time (the announcement only offers it).
    run.pump(3.0)
    run.keys(call, "1")
    run.pump_until(run.idle, 20)
    run.pump(2.0)  # the call's end merged into the callback too
    callbacks = run.api("GET", "/api/callbacks", None, run.args.supervisor)
    run.answers["callbacks"] = callbacks
    return (
        "customer -> DID 200 -> Queue(support,c); 1001-1003 ring, nobody answers; 3 s later "
        "the caller keys 1: out of the queue to [tamas-queue-callback], POST /pbx/callbacks "
        "(the number, queue support), custom/tamas-callback-booked, the PBX hangs up",
        "200",
        {"queue": "support", "callback": {"number": "09121234567", "queue": "support"}},
    )


def tracking_ivr(run: Run) -> tuple[str, str, dict[str, Any]]:
    customer = known_customer(run, VIP_NAME, VIP_NUMBER, priority="VIP", company="Tehran Steel")
    body = {"customer_id": customer, "subject": "the invoice of last month"}
    case = run.api("POST", "/api/tracking-codes", body, "sara")
    code = str(case["code"])
    run.log(f"sara issued {code}")
    run.answers["tracking_code"] = case
    run.pump(0.5)
    run.policy = {"1001": ("answer", 1.5)}
    call = dial_in(run, VIP_NUMBER, "300")
    run.pump_until(lambda: call.leg.connected_t is not None, 30)
    run.pump(1.0)  # [tamas-tracking] answers, then custom/tamas-enter-code (0.6 s)
    run.keys(call, code)
    run.pump_until(lambda: (run.leg_of("1001") or Leg("", "")).connected_t is not None, 40)
    run.pump(2.0)
    run.log("carrier hangs up")
    call.end()
    run.pump_until(run.idle, 15)
    return (
        f"sara issues a tracking code for {VIP_NAME} (POST /api/tracking-codes); the carrier "
        f"calls DID 300 (the site's IVR option: [tamas-tracking]) from {VIP_NUMBER} and keys "
        "the 8 digits; Tamas finds the open case; the caller hears the code (SayDigits) and "
        "custom/tamas-case-open, then Dial(PJSIP/1001) (the case's owner); 1001 answers after "
        "1.5 s; 2 s of talk; the caller hangs up",
        "300",
        {
            "outcome": "answered",
            "answered_by": "1001",
            "talk_s": 2.0,
            "number": VIP_NUMBER,
            "caller_name": "",  # no lookup on this path: the name the carrier sent (none)
            "tracking_code": code,
        },
    )


def supervise(run: Run, mode: str, stop: bool) -> dict[str, Any]:
    """1001 answers a DID 100 call; the supervisor joins it from Tamas (``mode``); Tamas's
    stop ends it 3 s later (``stop``), else the customer hangs up with the supervisor in."""
    run.policy = {"1001": ("answer", 2.0), "1003": ("answer", 1.0)}
    call = run.dial("customer", "100")
    run.pump_until(lambda: call.leg.connected_t is not None, 30)
    run.pump(1.0)
    supervisor = run.args.supervisor
    agents = run.api("GET", "/api/users", None, "admin")
    [sara] = [u["id"] for u in agents if "PJSIP/1001" in u["devices"]]
    session = run.api("POST", "/api/supervision/spy", {"agent_id": sara, "mode": mode}, supervisor)
    run.log(f"spy session {session['id']} {session['state']}")
    run.pump_until(lambda: (run.leg_of("1003") or Leg("", "")).connected_t is not None, 30)
    run.pump(3.0)
    if stop:
        stopped = run.api("POST", f"/api/supervision/spy/{session['id']}/stop", None, supervisor)
        run.log(f"spy session {stopped['id']} stop: {stopped['state']}")
        run.pump_until(lambda: (run.leg_of("1003") or Leg("", "")).ended_t is not None, 15)
        run.pump(2.0)
    run.log("customer hangs up")
    call.end()
    run.pump_until(run.idle, 15)
    run.pump(1.0)
    run.answers["spy_session"] = run.api(
        "GET", f"/api/supervision/spy/{session['id']}", None, supervisor
    )
    return {
        "outcome": "answered",
        "answered_by": "1001",
        "wait_s": 2.0,
        "agents_rung": ["1001"],  # 1003 rang for the supervisor, not for the customer
        "spy": {"agent": "1001", "supervisor_device": "PJSIP/1003", "mode": mode},
    }


def spy(run: Run) -> tuple[str, str, dict[str, Any]]:
    return (
        "customer -> DID 100 -> Dial(PJSIP/1001,20); 1001 answers after 2 s; 1 s later the "
        "supervisor (1003's user) asks Tamas to listen (POST /api/supervision/spy, listen); "
        "Tamas Originates 1003 into [tamas-spy]; 1003 answers after 1 s (ChanSpy); 3 s later "
        "POST /api/supervision/spy/{id}/stop; the PBX hangs 1003 up; 2 s later the customer "
        "hangs up",
        "100",
        supervise(run, "listen", stop=True),
    )


def barge(run: Run) -> tuple[str, str, dict[str, Any]]:
    return (
        "customer -> DID 100 -> Dial(PJSIP/1001,20); 1001 answers after 2 s; 1 s later the "
        "supervisor (1003's user) barges in (POST /api/supervision/spy, barge); Tamas "
        "Originates 1003 into [tamas-spy]; 1003 answers after 1 s (ChanSpy, B); 3 s later the "
        "customer hangs up: the call ends, ChanSpy with it, the PBX hangs 1003 up",
        "100",
        supervise(run, "barge", stop=False),
    )


SCENARIOS: dict[str, Callable[[Run], tuple[str, str, dict[str, Any]]]] = {
    f.__name__: f
    for f in (
        direct_answered,
        direct_noanswer,
        direct_declined,
        queue_answered,
        click_to_call,
        paused_queue,
        survey,
        blind_transfer,
        attended_transfer,
        lookup_vip,
        lookup_expired,
        spy,
        lookup_assigned,
        queue_callback,
        barge,
        tracking_ivr,
    )
}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("scenario", nargs="*")
    p.add_argument("--list", action="store_true")
    p.add_argument("--pbx", default="127.0.0.1", help="the PBX's SIP address")
    p.add_argument("--pbx-port", type=int, default=5060)
    p.add_argument("--phone-ip", default="127.0.0.1", help="the address the phones bind")
    p.add_argument("--phone-port", type=int, default=5071, help="the first phone's port")
    p.add_argument("--carrier", default="127.0.0.2:5070", help="the carrier's address:port")
    p.add_argument("--password-template", default="dev-{user}-change-me")
    p.add_argument("--ami", default="127.0.0.1:5038")
    p.add_argument("--ami-user", default="tamas")
    p.add_argument("--ami-secret", default=os.environ.get("TAMAS_AMI_SECRET", ""))
    p.add_argument("--tamas", default="http://127.0.0.1:8000", help="Tamas's address")
    p.add_argument("--tamas-password", default=os.environ.get("TAMAS_AGENT_PASSWORD", ""))
    p.add_argument("--pause-reason", default="break")
    p.add_argument("--supervisor", default="maryam", help="creates the known customers")
    p.add_argument("--prefix", default="L", help="the trace names' prefix")
    p.add_argument("--first", type=int, default=1, help="the first trace's number")
    p.add_argument("--out", type=Path, default=Path("."))
    p.add_argument("--spool", default="/var/spool/asterisk/monitor", help="the recordings")
    p.add_argument("--caller", default="09121234567", help="pjsip.conf's customer callerid")
    p.add_argument("--caller-name", default="Ali Rezaei")
    args = p.parse_args()
    if args.list or not args.scenario:
        print("\n".join(SCENARIOS))
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    run = Run(args)
    try:
        for n, name in enumerate(args.scenario, args.first):
            record(run, SCENARIOS[name], f"{args.prefix}{n}_{name}")
    except BaseException:
        traceback.print_exc()  # close() ends the process: say why first
        raise
    finally:
        run.close()
    return 0


def observed(legs: list[dict[str, Any]]) -> dict[str, Any]:
    """What the phones saw that a call log shows: which agents' phones rang, who declined,
    who hung up first (the customer or carrier, an agent, else the PBX)."""
    agent_legs = [leg for leg in legs if leg["ua"] in AGENTS and leg["direction"] == "in"]
    # A transferer's hangup once its transfer went through ends no conversation.
    ended = sorted(
        (
            leg
            for leg in legs
            if leg["hangup_by_this_ua"]
            and not any(n["final"] and n["status"] // 100 == 2 for n in leg["transfer_notify"])
        ),
        key=lambda leg: leg["ended_t"],
    )
    first = ended[0]["ua"] if ended else ""
    return {
        "agents_rung": sorted({leg["ua"] for leg in agent_legs}),
        "agents_rejected": [
            {"agent": leg["ua"], "status": leg["final_status"]}
            for leg in agent_legs
            if leg["hangup_by_this_ua"] and leg["connected_t"] is None
        ],
        "hung_up_by": "agent" if first in AGENTS else "customer" if first else "pbx",
    }


def record(run: Run, scenario: Callable[[Run], tuple[str, str, dict[str, Any]]], name: str) -> None:
    args = run.args
    spool = Path(args.spool)
    before = set(spool.iterdir()) if spool.is_dir() else set()
    host, port = args.ami.rsplit(":", 1)
    recorder = AmiRecorder(host, int(port), args.ami_user, args.ami_secret, args.out / name)
    time.sleep(1.0)
    run.t0 = time.time()
    run.legs.clear()
    run.calls.clear()
    run.timeline.clear()
    run.answers.clear()
    description, did, crm_call_log = scenario(run)
    caller = crm_call_log.pop("number", args.caller)
    if did:
        crm_call_log.setdefault("caller_name", args.caller_name)
    crm_call_log = observed([leg.__dict__ for leg in run.legs]) | crm_call_log
    run.pump(3.0)
    closed = recorder.close()
    run.policy = {}
    recordings = sorted(set(spool.iterdir()) - before) if spool.is_dir() else []
    facts = {
        "scenario": name,
        "description": description,
        "caller": caller,
        "did": did,
        "ami_login_time": round(recorder.login_time, 6),
        "ami_closed_time": round(closed, 6),
        "recordings": [{"path": str(r), "size": r.stat().st_size} for r in recordings],
        "crm_call_log": crm_call_log,
        "ua_calls": [leg.__dict__ for leg in run.legs],
        "ua_log": run.timeline,
    }
    if run.answers:
        facts["tamas"] = run.answers
    (args.out / f"{name}.json").write_text(json.dumps(facts, indent=1, ensure_ascii=False) + "\n")
    print(name, "recorded:", len(recorder.received), "bytes of AMI", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
