// The live pop cards, one per call (keyed by pbx + linkedid): who is calling, every customer
// holding the number, their last calls, the call's state. A withdrawn card says why and goes
// away after a few seconds; an ended one stays until the agent closes it (the newest few).

import { CARDS } from "./api.js";
import { notify, ring, unnotify } from "./alerts.js";
import {
  createCustomer,
  directionText,
  errorText,
  field,
  numberText,
  outcomeText,
  priorityBadge,
  tagList,
} from "./customers.js";
import { $, h, joined, newId, showFormErrors } from "./dom.js";
import { applyLang, digits, duration, t, timeElement } from "./i18n.js";

const WITHDRAWN_MS = 6000;
const KEEP_ENDED = 5;
const ALERT_STATES = new Set(["ringing", "transferred"]);

const keyOf = (m) => `${m.pbx}|${m.linkedid}`;

export class PopBoard {
  /** `openCustomer(id)` shows a customer in the customer card. */
  constructor({ openCustomer }) {
    this.list = $("pop-list");
    this.empty = $("pops-empty");
    this.announcer = $("announcer");
    this.openCustomer = openCustomer;
    // key -> {message, status: live|withdrawn|ended, el, form, quick, timer}
    this.cards = new Map();
    document.addEventListener("langchange", () => {
      for (const card of this.cards.values()) this.render(card);
    });
  }

  /** A pop, withdraw or end message from the socket. */
  handle(message) {
    const key = keyOf(message);
    let card = this.cards.get(key);
    if (message.type === "pop") {
      const before = card?.status === "live" ? card.message.state : null;
      if (!card) {
        card = { key, el: h("li", { class: "pop" }), form: null, quick: null, timer: null };
        this.cards.set(key, card);
        this.list.prepend(card.el);
      }
      clearTimeout(card.timer);
      card.message = message;
      card.status = "live";
      this.render(card);
      if (ALERT_STATES.has(message.state) && before !== message.state) this.alert(card);
      else if (message.state === "dialling" && before !== "dialling") {
        this.announce(t("announce_dialling", { who: who(message) }));
      } else if (!ALERT_STATES.has(message.state)) unnotify(key);
    } else if (card) {
      // A withdraw or end for a call this tab shows (others are nothing to take away).
      card.message = { ...card.message, ...message };
      card.status = message.type === "withdraw" ? "withdrawn" : "ended";
      unnotify(key);
      this.render(card);
      if (card.status === "withdrawn") {
        this.announce(`${who(card.message)}: ${withdrawnText(card.message)}`);
        card.timer = setTimeout(() => this.expire(card), WITHDRAWN_MS);
      } else {
        this.trimEnded();
      }
    }
    this.changed();
  }

  /** Cards kept from before a reload of this tab (the socket resumes after them). */
  restore() {
    let saved = [];
    try {
      saved = JSON.parse(sessionStorage.getItem(CARDS) ?? "[]");
    } catch {
      saved = [];
    }
    for (const { message, status } of saved.reverse()) {
      const card = { key: keyOf(message), message, status, form: null, quick: null, timer: null };
      card.el = h("li", { class: "pop" });
      this.cards.set(card.key, card);
      this.list.prepend(card.el);
      this.render(card);
    }
    this.changed();
  }

  clear() {
    for (const card of this.cards.values()) {
      clearTimeout(card.timer);
      unnotify(card.key);
    }
    this.cards.clear();
    this.list.replaceChildren();
    this.announcer.textContent = "";
    this.changed();
  }

  /** A customer was edited: cards showing it show the new details. */
  updateCustomer(customer) {
    for (const card of this.cards.values()) {
      const shown = card.message.customers ?? [];
      if (shown.some((c) => c.id === customer.id)) {
        card.message = {
          ...card.message,
          customers: shown.map((c) => (c.id === customer.id ? { ...c, ...customer } : c)),
        };
        this.render(card);
      }
    }
    this.changed();
  }

  alert(card) {
    const m = card.message;
    const text =
      m.state === "transferred"
        ? t("announce_transferred", { name: m.transferred_by, who: who(m) })
        : t("announce_ringing", { who: who(m) });
    this.announce(text);
    ring();
    notify(card.key, t("notification_title"), text, () => card.el.querySelector("h3")?.focus());
  }

  announce(text) {
    // Emptied first so the same words said twice (two calls from one number) are read twice.
    this.announcer.textContent = "";
    requestAnimationFrame(() => {
      this.announcer.textContent = text;
    });
  }

  expire(card) {
    // Not taken from under the agent's hands: a card they are typing in stays until closed.
    const busy = card.el.contains(document.activeElement) || card.form?.dataset.dirty;
    if (!busy) this.remove(card);
  }

  remove(card) {
    clearTimeout(card.timer);
    const focused = card.el.contains(document.activeElement);
    card.el.remove();
    this.cards.delete(card.key);
    unnotify(card.key);
    if (focused) $("pops-h").focus();
    this.changed();
  }

  trimEnded() {
    const ended = [...this.cards.values()].filter((c) => c.status === "ended");
    // Map order is arrival order: the oldest ended calls go first.
    for (const card of ended.slice(0, Math.max(0, ended.length - KEEP_ENDED))) this.remove(card);
  }

  changed() {
    this.empty.hidden = this.cards.size > 0;
    const kept = [...this.cards.values()]
      .filter((c) => c.status !== "withdrawn")
      .map((c) => ({ message: c.message, status: c.status }));
    // Newest first, as shown.
    sessionStorage.setItem(CARDS, JSON.stringify(kept.reverse()));
  }

  render(card) {
    const m = card.message;
    const titleId = `${card.key.replace(/[^\w-]/g, "_")}-title`;
    card.el.dataset.state = card.status === "live" ? m.state : card.status;
    card.el.setAttribute("aria-labelledby", titleId);
    const closable = card.status !== "live";
    // The agent may be typing in the quick-create form: it is moved, not rebuilt, and keeps
    // the keyboard.
    const typing = card.form?.contains(document.activeElement) ? document.activeElement : null;
    card.el.replaceChildren(
      h(
        "article",
        {},
        h(
          "header",
          { class: "pop-head" },
          h(
            "p",
            { class: "pop-state" },
            h("span", { class: "badge state", text: stateText(card) }),
            m.known ? null : [" ", h("span", { class: "badge", text: t("unknown_number") })],
          ),
          h("h3", { id: titleId, tabindex: "-1" }, numberText(m.number_display || m.number || "?")),
          h(
            "p",
            { class: "pop-meta muted" },
            joined(
              [
                directionText(m.direction),
                m.queue ? t("queue", { queue: m.queue }) : null,
                m.started_at ? timeElement(m.started_at) : null,
              ],
              t("sep"),
            ),
          ),
          m.caller_name
            ? h("p", { class: "caller-id" }, `${t("caller_id")}: `, h("bdi", { text: m.caller_name }))
            : null,
          closable
            ? h("button", {
                type: "button",
                class: "close secondary",
                "aria-label": t("close_card", { number: digits(m.number_display || m.number) }),
                title: t("close"),
                text: "×",
                onclick: () => this.remove(card),
              })
            : null,
        ),
        m.known ? this.matches(m.customers) : this.quickCreate(card),
        lastCalls(m.last_calls ?? []),
      ),
    );
    typing?.focus();
  }

  matches(customers) {
    return h(
      "ul",
      { class: "matches" },
      customers.map((c) =>
        h(
          "li",
          { class: "match" },
          h(
            "p",
            { class: "match-name" },
            h("button", {
              type: "button",
              class: "link",
              text: c.name,
              onclick: () => this.openCustomer(c.id),
            }),
            priorityBadge(c.priority),
          ),
          c.company ? h("p", { class: "match-company", text: c.company }) : null,
          c.address ? h("p", { class: "match-address muted", text: c.address }) : null,
          tagList(c.tags),
        ),
      ),
    );
  }

  /**
   * The form for an unknown number, folded (one click opens it: cards stay short while
   * calls come in) and built once per card, so what is typed survives re-renders.
   */
  quickCreate(card) {
    if (card.quick) {
      applyLang(card.quick);
      return card.quick;
    }
    const m = card.message;
    const name = h("input", {
      "data-field": "name",
      required: true,
      maxlength: 200,
      autocomplete: "off",
      value: m.caller_name && !/^\d+$/.test(m.caller_name) ? m.caller_name : "",
    });
    const company = h("input", { "data-field": "company", maxlength: 200, autocomplete: "off" });
    const number = h("input", {
      "data-field": "phones",
      required: true,
      dir: "ltr",
      inputmode: "tel",
      autocomplete: "off",
      value: m.number_display || m.number || "",
    });
    const save = h("button", { type: "submit", "data-i18n": "save", text: t("save") });
    const summaryId = newId("quick");
    const form = h(
      "form",
      { "aria-labelledby": summaryId, novalidate: true },
      field("name", name),
      field("company", company),
      field("number", number),
      h("p", { class: "form-error", role: "alert" }),
      h("p", { class: "actions" }, save),
    );
    form.addEventListener("input", () => {
      form.dataset.dirty = "1";
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!name.value.trim()) {
        showFormErrors(form, { fields: [{ field: "name", message: t("name_required") }] });
        name.focus();
        return;
      }
      save.disabled = true;
      save.textContent = t("saving");
      try {
        const created = await createCustomer({
          name: name.value.trim(),
          company: company.value.trim(),
          number: number.value.trim(),
        });
        card.form = null;
        card.quick = null;
        card.message = { ...card.message, known: true, customers: [created] };
        this.render(card);
        this.changed();
        this.announce(`${created.name}: ${t("saved")}`);
        this.openCustomer(created.id);
      } catch (err) {
        showFormErrors(form, err.error, errorText(err));
        save.disabled = false;
        save.textContent = t("save");
      }
    });
    card.form = form;
    card.quick = h(
      "details",
      { class: "quick-create" },
      h("summary", { id: summaryId, "data-i18n": "quick_create", text: t("quick_create") }),
      form,
    );
    return card.quick;
  }
}

function lastCalls(calls) {
  const headingId = newId("last");
  return h(
    "section",
    { class: "last-calls", "aria-labelledby": headingId },
    h("h4", { id: headingId, text: t("last_calls") }),
    calls.length
      ? h(
          "ol",
          {},
          calls.map((c) =>
            h(
              "li",
              {},
              joined(
                [
                  timeElement(c.started_at),
                  outcomeText(c.outcome),
                  c.agent ? t("by_agent", { name: c.agent }) : null,
                  c.talk_seconds ? h("span", { dir: "ltr", text: duration(c.talk_seconds) }) : null,
                ],
                t("sep"),
              ),
            ),
          ),
        )
      : h("p", { class: "muted", text: t("no_last_calls") }),
  );
}

/** How the announcer and notifications name the caller. */
function who(m) {
  const name = m.customers?.[0]?.name || m.caller_name;
  const number = digits(m.number_display || m.number || "");
  return name ? `${name} (${number})` : number;
}

function stateText(card) {
  const m = card.message;
  if (card.status === "ended") return t("state_ended");
  if (card.status === "withdrawn") return withdrawnText(m);
  if (m.state === "transferred" || m.reason === "transferred") {
    return t("state_transferred", { name: m.transferred_by || "?" });
  }
  return t(`state_${m.state}`);
}

function withdrawnText(m) {
  switch (m.reason) {
    case "answered":
      return t("withdrawn_answered", { name: m.answered_by || "?" });
    case "caller_hung_up":
      return t("withdrawn_caller_hung_up");
    case "transferred":
      return m.transferred_to
        ? t("withdrawn_transferred_to", { name: m.transferred_to })
        : t("withdrawn_transferred");
    case "no_answer":
    case "busy":
    case "failed":
      return t(`withdrawn_${m.reason}`);
    default:
      return t("withdrawn_other");
  }
}
