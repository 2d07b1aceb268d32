"""Pop enrichment against an ERP on a real socket: its fields reach the agent for the pop's
call and later pops carry them from the cache; an ERP that hangs or fails never holds a pop
back (the pop arrives, the enrichment is marked late or failed)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.async_api import async_playwright, expect
from pydantic import SecretStr

from app.config import Settings
from app.db import Database
from app.integrations.enrichment import BadAnswer, fields_of
from telephony.simulator import AmiSimulator
from tests.integrations.receiver import Receiver, eventually, receiving
from tests.screenpop.support import following, follows, instance_settings, replay, serving, team
from tests.screenpop.test_panel import ARGS, Panel, installed_chromium

ERP_ANSWER = {
    "fields": [
        {"label": "فاکتورهای باز", "value": 2},
        {"label": "مانده حساب", "value": "۱۲٬۵۰۰٬۰۰۰ ریال"},
        {"label": "آخرین سفارش", "value": "SO-1042"},
    ]
}


def with_erp(settings: Settings, url: str, **more: Any) -> Settings:
    return settings.model_copy(
        update={
            "enrichment_url": url + "?phone={number}&customer={customer_id}&ext={external_id}",
            "enrichment_headers": {"Authorization": SecretStr("Bearer erp-key")},
            "enrichment_budget_ms": 300,
            "enrichment_timeout_seconds": 2.0,
            **more,
        }
    )


def of_type(messages: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [m for m in messages if m["type"] == kind]


async def test_the_erp_answer_follows_the_pop_and_is_cached(
    db: Database, sim: AmiSimulator, settings: Settings
) -> None:
    tokens = await team(db, settings)
    erp = Receiver(reply=json.dumps(ERP_ANSWER).encode())
    async with receiving(erp) as erp:
        conf = with_erp(instance_settings(settings, db, sim), erp.url)
        async with following(conf) as tamas:
            sara = await tamas.agent(tokens["1001"])
            await replay(sim, "01_direct_answered")
            await sara.wait_for(lambda m: any(x["type"] == "end" for x in m))
            await sara.wait_for(lambda m: bool(of_type(m, "enrichment")))
            pops = of_type(sara.messages, "pop")
            # The first pop did not wait: it went out marked pending.
            assert pops[0]["state"] == "ringing"
            assert pops[0]["enrichment"] == {"status": "pending"}
            [update] = of_type(sara.messages, "enrichment")
            assert (update["pbx"], update["linkedid"]) == (pops[0]["pbx"], pops[0]["linkedid"])
            assert update["call_id"] == pops[0]["call_id"]
            assert update["enrichment"]["status"] == "ok"
            assert [f["label"] for f in update["enrichment"]["fields"]] == [
                "فاکتورهای باز",
                "مانده حساب",
                "آخرین سفارش",
            ]
            assert update["enrichment"]["fields"][0]["value"] == "2"
            # The ERP was asked once, for the caller, with the configured header.
            [asked] = erp.received
            customer_id = pops[0]["customers"][0]["id"]
            assert asked.headers[":path"] == (
                f"/hook?phone=%2B989121234567&customer={customer_id}&ext="
            )
            assert asked.headers["authorization"] == "Bearer erp-key"
            # The next call's pops carry the answer from the cache: no new question.
            sara.messages.clear()
            await replay(sim, "01_direct_answered")
            await sara.wait_for(lambda m: any(x["type"] == "end" for x in m))
            first = of_type(sara.messages, "pop")[0]
            assert first["enrichment"]["status"] == "ok"
            assert first["enrichment"]["fields"] == update["enrichment"]["fields"]
            assert len(erp.received) == 1


@pytest.mark.parametrize("erp_does", ["hang", 500])
async def test_an_erp_that_hangs_or_fails_never_holds_the_pop(
    db: Database, sim: AmiSimulator, settings: Settings, erp_does: str | int
) -> None:
    tokens = await team(db, settings)
    async with receiving(Receiver(default=erp_does)) as erp:
        conf = with_erp(instance_settings(settings, db, sim), erp.url)
        async with following(conf) as tamas:
            sara = await tamas.agent(tokens["1001"])
            await replay(sim, "01_direct_answered")
            # The call's pops all arrive (ringing, answered, end) while the ERP has not
            # answered: nothing waited for it.
            await sara.wait_for(lambda m: any(x["type"] == "end" for x in m))
            kinds = [
                (m["type"], m.get("state")) for m in sara.messages if m["type"] != "enrichment"
            ]
            assert kinds == [("pop", "ringing"), ("pop", "answered"), ("end", "ended")]
            assert of_type(sara.messages, "pop")[0]["enrichment"] == {"status": "pending"}
            expected = "late" if erp_does == "hang" else "failed"
            await sara.wait_for(
                lambda m: any(
                    x["enrichment"]["status"] == expected for x in of_type(m, "enrichment")
                )
            )
            assert all(
                x["enrichment"]["status"] in ("pending", "late", "failed")
                for x in sara.messages
                if "enrichment" in x
            )
            assert len(erp.received) == 1


def test_answers_are_read_as_labelled_fields() -> None:
    assert fields_of({"balance": 12, "vip": True, "nested": {"x": 1}, "none": None}) == [
        {"label": "balance", "value": "12"},
        {"label": "vip", "value": "True"},
    ]
    assert fields_of({"fields": [{"label": "a", "value": "x" * 500}]}) == [
        {"label": "a", "value": "x" * 200}
    ]
    with pytest.raises(BadAnswer):
        fields_of(["not", "an", "object"])
    with pytest.raises(BadAnswer):
        fields_of({"fields": [{"value": 1}]})


async def test_the_panel_shows_the_erp_fields_on_the_pop_and_the_customer_card(
    db: Database, sim: AmiSimulator, settings: Settings
) -> None:
    await team(db, settings)
    erp = Receiver(reply=json.dumps(ERP_ANSWER).encode())
    async with (
        receiving(erp) as erp,
        serving(with_erp(instance_settings(settings, db, sim), erp.url)) as (port, app),
        async_playwright() as playwright,
    ):
        await eventually(lambda: follows(app))
        browser = await playwright.chromium.launch(executable_path=installed_chromium(), args=ARGS)
        sara = await Panel.open(browser, port)
        await sara.sign_in("sara")
        await replay(sim, "01_direct_answered")
        card = sara.page.locator("#pop-list > li").first
        fields = card.locator(".enrichment[data-status=ok]")
        await expect(fields).to_contain_text("مانده حساب")
        await expect(fields).to_contain_text("۱۲٬۵۰۰٬۰۰۰ ریال")
        await expect(fields).to_contain_text("SO-۱۰۴۲")
        await card.get_by_role("button", name="علی رضایی").click()
        customer = sara.page.locator("#customer-body")
        await expect(customer.locator(".enrichment")).to_contain_text("فاکتورهای باز")
        await sara.close()
        await browser.close()
