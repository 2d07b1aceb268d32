// The customer card's texts (SMS): every text to the customer with its state (queued,
// sent, delivered, failed...) and what sent it, and a form for the agent's own text with a
// live count of characters and parts (Persian letters make a text UCS-2: 70 characters a
// part). A text waiting in the outbox is looked at again until it has left.

import { api } from "./api.js";
import { errorText, field, numberText, phoneLabel } from "./customers.js";
import { readableNumber } from "./dialling.js";
import { h, newId, showFormErrors } from "./dom.js";
import { addStrings, applyLang, digits, t, timeElement, tMaybe } from "./i18n.js";
import { smsParts } from "./smsparts.js";

const SHOWN = 20; // the newest texts shown
const WATCH_MS = 4_000; // a text not yet sent is looked at again after this
const WAITING = new Set(["queued", "sending"]);
const MOBILE = /^\+989\d{9}$/; // Iran's mobiles; texts go to mobiles only

addStrings({
  fa: {
    sms_title: "پیامک‌ها",
    sms_none: "پیامکی به این مشتری فرستاده نشده است.",
    sms_new: "ارسال پیامک",
    sms_body: "متن پیامک",
    sms_to: "به شماره",
    sms_send: "ارسال",
    sms_queued_now: "پیامک در صف ارسال است.",
    sms_count: "{chars} نویسه، {parts} بخش؛ {left} نویسه تا بخش بعد",
    sms_count_fa: "متن فارسی: هر بخش ۷۰ نویسه (چندبخشی ۶۷)",
    sms_count_latin: "متن لاتین: هر بخش ۱۶۰ نویسه (چندبخشی ۱۵۳)",
    sms_status_queued: "در صف",
    sms_status_sending: "در حال ارسال",
    sms_status_sent: "ارسال شد",
    sms_status_delivered: "رسید",
    sms_status_failed: "ناموفق",
    sms_status_cancelled: "لغو شد",
    sms_trigger_manual: "پیامک کارشناس",
    sms_trigger_tracking_code: "کد پیگیری",
    sms_trigger_missed_call: "تماس بی‌پاسخ",
    sms_trigger_callback_scheduled: "تماس برگشتی",
    sms_trigger_contract_expiring: "پایان قرارداد",
    sms_trigger_survey_link: "نظرسنجی",
    "sms_why_opted out": "این شماره دریافت پیامک را لغو کرده است.",
    "sms_why_rate limited": "به این شماره به‌تازگی پیامک‌های زیادی فرستاده شده است.",
    sms_parts_n: "{n} بخش",
    error_opted_out: "این شماره دریافت پیامک را لغو کرده است.",
    error_duplicate: "این پیامک پیش‌تر فرستاده شده است.",
  },
  en: {
    sms_title: "Texts",
    sms_none: "No text has been sent to this customer.",
    sms_new: "Send a text",
    sms_body: "Text",
    sms_to: "To",
    sms_send: "Send",
    sms_queued_now: "The text is queued to be sent.",
    sms_count: "{chars} characters, {parts} part(s); {left} left in this part",
    sms_count_fa: "Persian text: 70 characters a part (67 when several)",
    sms_count_latin: "Latin text: 160 characters a part (153 when several)",
    sms_status_queued: "queued",
    sms_status_sending: "sending",
    sms_status_sent: "sent",
    sms_status_delivered: "delivered",
    sms_status_failed: "failed",
    sms_status_cancelled: "cancelled",
    sms_trigger_manual: "agent's text",
    sms_trigger_tracking_code: "tracking code",
    sms_trigger_missed_call: "missed call",
    sms_trigger_callback_scheduled: "callback",
    sms_trigger_contract_expiring: "contract ending",
    sms_trigger_survey_link: "survey",
    "sms_why_opted out": "This number asked for no texts.",
    "sms_why_rate limited": "This number had too many texts lately.",
    sms_parts_n: "{n} part(s)",
    error_opted_out: "This number asked for no texts.",
    error_duplicate: "This text was sent already.",
  },
});

/** The count under the text box: characters, parts, and what is left in this part. */
export function countText(text) {
  const c = smsParts(text);
  return {
    line: t("sms_count", {
      chars: digits(c.units),
      parts: digits(text ? c.parts : 0),
      left: digits(c.remaining),
    }),
    hint: t(c.encoding === "ucs2" ? "sms_count_fa" : "sms_count_latin"),
    parts: c.parts,
  };
}

const statusText = (s) => tMaybe(`sms_status_${s}`) ?? s;
const triggerText = (s) => tMaybe(`sms_trigger_${s}`) ?? s;
const whyText = (e) => tMaybe(`sms_why_${e}`) ?? e;

/** A fresh key for one text the agent means to send (a retried request sends it once). */
const newKey = () =>
  globalThis.crypto?.randomUUID?.() ?? `${Date.now()}-${Math.random().toString(36).slice(2)}`;

export class TextSection {
  constructor() {
    this.el = h("section", { class: "texts" });
    this.customer = null;
    this.texts = [];
    this.problem = null;
    this.form = null; // built once per customer: what is typed survives a re-render
    this.loading = null;
    this.watch = null;
    document.addEventListener("langchange", () => this.render());
  }

  /** Show this customer's texts (the customer as the card has it: id and phones). */
  async load(customer) {
    if (customer.id !== this.customer?.id) this.form = null;
    this.customer = customer;
    await this.reload();
  }

  async reload() {
    clearTimeout(this.watch);
    this.loading?.abort();
    const customer = this.customer;
    if (!customer) return;
    const loading = new AbortController();
    this.loading = loading;
    try {
      this.texts = await api(`/api/customers/${customer.id}/sms?limit=${SHOWN}`, {
        signal: loading.signal,
      });
      this.problem = null;
    } catch (err) {
      if (err.name === "AbortError") return;
      this.problem = errorText(err);
    }
    if (this.customer !== customer) return;
    this.render();
    if (this.texts.some((m) => WAITING.has(m.status))) {
      this.watch = setTimeout(() => this.reload(), WATCH_MS);
    }
  }

  clear() {
    clearTimeout(this.watch);
    this.loading?.abort();
    Object.assign(this, { customer: null, texts: [], form: null, problem: null });
    this.el.replaceChildren();
  }

  render() {
    if (!this.customer) return;
    const focused = this.form?.contains(document.activeElement) ? document.activeElement : null;
    const parts = [
      h("h4", { text: t("sms_title") }),
      this.problem ? h("p", { class: "error", role: "alert", text: this.problem }) : null,
      this.texts.length
        ? h("ol", { class: "sms-list" }, this.texts.map((m) => this.item(m)))
        : h("p", { class: "muted", text: t("sms_none") }),
      this.sendForm(),
    ];
    this.el.replaceChildren(...parts.filter(Boolean));
    focused?.focus();
  }

  item(m) {
    const parts = smsParts(m.body).parts;
    const why = ["failed", "cancelled"].includes(m.status) && m.last_error ? m.last_error : "";
    return h(
      "li",
      { class: `sms sms-${m.status}`, "data-id": m.id },
      h(
        "p",
        { class: "sms-head" },
        h("span", { class: `badge sms-status sms-status-${m.status}`, text: statusText(m.status) }),
        " ",
        h("span", { class: "muted", text: triggerText(m.trigger) }),
        " ",
        numberText(readableNumber(m.number, m.number)),
        " ",
        timeElement(m.delivered_at ?? m.sent_at ?? m.created_at),
        parts > 1 ? h("span", { class: "muted", text: ` · ${t("sms_parts_n", { n: digits(parts) })}` }) : null,
      ),
      h("p", { class: "sms-body", dir: "auto", text: m.body }),
      why ? h("p", { class: "muted sms-why", text: whyText(why) }) : null,
    );
  }

  sendForm() {
    if (this.form) {
      applyLang(this.form.parentElement);
      this.form.count();
      return this.form.parentElement;
    }
    const customer = this.customer;
    const phones = customer.phones ?? [];
    const mobiles = phones.filter((p) => MOBILE.test(p.e164 ?? ""));
    const to = h(
      "select",
      { "data-field": "number" },
      (mobiles.length ? mobiles : phones).map((p) =>
        h("option", { value: p.number, text: `${digits(readableNumber(p.number, p.e164))} (${phoneLabel(p.label)})` }),
      ),
    );
    const body = h("textarea", { "data-field": "body", rows: 3, maxlength: 1000 });
    const countId = newId("sms-count");
    const counter = h("span", { class: "sms-count", id: countId, "aria-live": "polite" });
    const hint = h("span", { class: "hint sms-encoding" });
    body.setAttribute("aria-describedby", countId);
    const send = h("button", { type: "submit", "data-i18n": "sms_send", text: t("sms_send") });
    const status = h("p", { class: "muted", role: "status" });
    const form = h(
      "form",
      { class: "sms-form", novalidate: true },
      phones.length > 1 ? field("sms_to", to) : null,
      field("sms_body", body),
      h("p", { class: "field" }, counter, " ", hint),
      h("p", { class: "form-error", role: "alert" }),
      h("p", { class: "actions" }, send),
      status,
    );
    let key = newKey(); // one per text: a second click or a retry of this one sends it once
    form.count = () => {
      const c = countText(body.value);
      counter.textContent = c.line;
      hint.textContent = c.hint;
    };
    body.addEventListener("input", () => {
      form.count();
      status.textContent = "";
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (send.disabled) return;
      const text = body.value.trim();
      if (!text) {
        showFormErrors(form, { fields: [{ field: "body", code: "missing" }] }, t("error_missing"));
        return;
      }
      send.disabled = true;
      status.textContent = "";
      try {
        await api("/api/sms", {
          method: "POST",
          body: { body: text, customer_id: customer.id, number: to.value || null },
          headers: { "Idempotency-Key": key },
        });
        showFormErrors(form, null);
        key = newKey();
        body.value = "";
        form.count();
        status.textContent = t("sms_queued_now");
        if (this.customer === customer) await this.reload();
      } catch (err) {
        if (err.error?.code === "duplicate") {
          // Sent by an earlier try whose answer was lost: it is in the list.
          key = newKey();
          body.value = "";
          form.count();
          if (this.customer === customer) await this.reload();
        } else showFormErrors(form, err.error, errorText(err));
      } finally {
        send.disabled = false;
      }
    });
    form.count();
    this.form = form;
    return h(
      "details",
      { class: "send-sms" },
      h("summary", { "data-i18n": "sms_new", text: t("sms_new") }),
      form,
    );
  }
}
