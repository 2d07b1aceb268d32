"""The development PBX's configuration (etc/asterisk/*.conf): asterisklint (PyPI) on the
whole dialplan, and asterisk-dev/check.py's Asterisk-aware checks (pjsip references, queue
members and options, includes, queues). Each checker is shown a broken copy and must say
what is wrong."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.asterisk_dev.support import (
    ETC,
    ROOT,
    asterisklint,
    check,
    edit,
)


def test_asterisklint_passes_the_whole_dialplan() -> None:
    # extensions.conf with extensions_tamas.conf #included: syntax, priorities, applications
    # and their arguments, functions, every Goto/GotoIf/Gosub target.
    run = asterisklint("dialplan-check", ETC)
    assert (run.returncode, run.stdout, run.stderr) == (0, "", "")


def test_asterisklint_sees_a_broken_dialplan(etc_copy: Path) -> None:
    edit(
        etc_copy / "extensions_tamas.conf", "?tamas-destinations,vip,1", "?tamas-destination,vip,1"
    )
    edit(etc_copy / "extensions.conf", "Dial(PJSIP/${EXTEN},20)", "Dail(PJSIP/${EXTEN},20)")
    edit(etc_copy / "extensions.conf", "Queue(sales,t,,,300)", "Queue(sales,t,,,300")
    run = asterisklint("dialplan-check", etc_copy)
    assert run.returncode != 0
    said = run.stdout + run.stderr
    found = set(re.findall(r"^(extensions(?:_tamas)?\.conf):\d+ (\w+):", said, re.M))
    assert found >= {
        ("extensions_tamas.conf", "E_DP_GOTO_NOCONTEXT"),
        ("extensions.conf", "E_APP_MISSING"),
        ("extensions.conf", "W_APP_BALANCE"),
    }, said


def test_modules_conf_requires_every_module_the_dialplan_uses() -> None:
    run = asterisklint("modules-show", ETC)
    used = set(re.findall(r"^load => (\S+)$", run.stdout, re.M))
    assert {"app_queue.so", "app_mixmonitor.so", "func_curl.so", "app_stack.so"} <= used
    (modules,) = check.read_conf(ETC / "modules.conf")
    preload = set(modules.all("preload-require"))
    required = set(modules.all("require")) | preload
    noload = set(modules.all("noload"))
    # Asterisk refuses to start without them, rather than run a dialplan that cannot work.
    assert used <= required, used - required
    assert not required & noload
    # What asterisklint cannot see: [globals]' ${ENV()} (expanded as pbx_config loads, so
    # loaded before it), CURL()'s library, the Cdr events.
    if "${ENV(" in (ETC / "extensions.conf").read_text():
        assert "func_env.so" in preload
    assert {"res_curl.so", "cdr_manager.so", "chan_pjsip.so"} <= required


def test_the_configs_pass_the_asterisk_aware_checks() -> None:
    assert check.check(ETC) == []
    run = subprocess.run(
        [sys.executable, str(ROOT / "check.py")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (run.returncode, run.stdout) == (0, "")


def test_the_checks_see_broken_configs(etc_copy: Path) -> None:
    edit(etc_copy / "pjsip.conf", "aors=1002", "aors=1020")
    edit(etc_copy / "pjsip.conf", "auth=1003\n", "auth=1030\n")
    edit(etc_copy / "pjsip.conf", "context=from-trunk\ndisallow", "context=from-trnk\ndisallow")
    edit(etc_copy / "queues.conf", "persistentmembers=yes", "persistentmembers=yes\nupdatecdr=yes")
    edit(etc_copy / "queues.conf", "strategy=ringall", "strategy=ringsome")
    edit(etc_copy / "queues.conf", "=tamas-queue-callback", "=tamas-queue-callbak")
    edit(etc_copy / "queues.conf", "member => PJSIP/1003,", "member => PJSIP/1004,", last=True)
    edit(etc_copy / "extensions.conf", "include => outbound", "include => outbond")
    edit(etc_copy / "extensions.conf", "Dial(PJSIP/1001,20)", "Dial(PJSIP/1010,20)")
    edit(etc_copy / "extensions_tamas.conf", "TAMAS_SALES_QUEUE=sales", "TAMAS_SALES_QUEUE=sale")
    edit(etc_copy / "manager.conf", "read=call,", "read=calls,")
    edit(etc_copy / "manager.conf", "deny=0.0.0.0/0.0.0.0\n", "")
    edit(etc_copy / "rtp.conf", "rtpend=10099", "rtpend=9999")
    problems = check.check(etc_copy)
    assert [p.split(": ", 1)[1] for p in problems] == [
        "[1002] aors=1020: no aor [1020]",
        "[1003] auth=1030: no auth [1030]",
        "endpoint [customer]: no context [from-trnk]",
        "[general] updatecdr: gone since Asterisk 12: use the MEMBERINTERFACE variable "
        "(setinterfacevar)",
        "[support] strategy=ringsome: not a strategy",
        "[support] context=tamas-queue-callbak: no such dialplan context",
        "[support-vip] strategy=ringsome: not a strategy",
        "[support-vip] context=tamas-queue-callbak: no such dialplan context",
        "[sales] strategy=ringsome: not a strategy",
        "[sales] context=tamas-queue-callbak: no such dialplan context",
        "[sales] member PJSIP/1004: no such endpoint",
        "[from-internal] includes [outbond], which does not exist",
        "[from-trunk] Dial(PJSIP/1010): no endpoint [1010]",
        "[tamas-settings] queue sale: not in queues.conf",
        "AMI user [tamas]: deny all, then permit Tamas's hosts",
        "AMI user [tamas] read: no class 'calls'",
        "rtpstart 10000 must be below rtpend 9999",
    ]
    assert problems[0].startswith("pjsip.conf:") and problems[13].startswith(
        "extensions_tamas.conf:"
    )
    run = subprocess.run(
        [sys.executable, str(ROOT / "check.py"), str(etc_copy)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 1 and run.stdout.splitlines() == problems
