// The live pop cards, one per call: who is calling, every customer holding the number (with
// their support contract and open cases), their last calls, the call's state; once answered,
// the call's tracking code and the agent's notes and disposition (casework.js). A withdrawn
// card says why and goes away after a few seconds; an ended one stays until the agent closes
// it (the newest few).
//
// Cards are keyed by pbx + linkedid, except the calls the agent placed from the panel
// (click-to-call): those are keyed by the origination's ref ("o|ref"), which every message
// about them carries, so the card made at the click follows the call to its end, and a call
// that failed before it existed (its linkedid is the ref) still lands on it. A failed
// click-to-call stays, with its reason, until the agent closes it.

import { CARDS } from "./api.js";
import { notify, ring, unnotify } from "./alerts.js";
import { CallWork, callCodes, openCases, pastCalls } from "./casework.js";
import { contractBadge, expired } from "./contracts.js";
import {
  createCustomer,
  directionText,
  errorText,
  field,
  numberText,
  priorityBadge,
  tagList,
} from "./customers.js";
import { callButton, refusalText } from "./dialling.js";
import { $, h, joined, newId, showFormErrors } from "./dom.js";
import { enrichmentBlock, merged, remember } from "./enrichment.js";
import { applyLang, digits, duration, t, timeElement, tMaybe } from "./i18n.js";

const WITHDRAWN_MS = 6000;
const KEEP_ENDED = 5;
const ALERT_STATES = new Set(["ringing", "transferred"]);
// A call the agent is on or has had: their notes and disposition go on its card.
const TAKEN_STATES = new Set(["answered", "connected"]);
const PLACED_STATES = new Set(["requested", "agent_ringing", "dialling", "connected"]);
// An outbound call the PBX did not tag with the ref is taken for the one just requested to
// the same number (a PBX whose events leave out the Originate's variables) within this time.
const ADOPT_MS = 120_000;

const plainKey = (m) => `${m.pbx}|${m.linkedid}`;
const keyOf = (m) => (m.origination ? `o|${m.origination}` : plainKey(m));
const placed = (card) => card.key.startsWith("o|") || card.key.startsWith("local|");
let localSeq = 0;

export class PopBoard {
  /**
   * `openCustomer(id)` shows a customer in the customer card, `openCase(code)` a case;
   * `onLine(state)` hears whether the agent is on a call ("on_call"), being rung
   * ("ringing") or neither (null), as their cards say.
   */
  constructor({ openCustomer, openCase, onLine = () => {} }) {
    this.onLine = onLine;
    this.list = $("pop-list");
    this.empty = $("pops-empty");
    this.announcer = $("announcer");
    this.openCustomer = openCustomer;
    this.openCase = openCase;
    // key -> {key, message, status: live|withdrawn|ended|failed, el, form, quick, work, timer}
    this.cards = new Map();
    // pbx|linkedid -> the key of the placed call's card it belongs to
    this.aliases = new Map();
    document.addEventListener("langchange", () => {
      for (const card of this.cards.values()) this.render(card);
    });
    // The ring and talk timers of live cards count by themselves between messages.
    setInterval(() => this.tick(), 1000);
  }

  tick() {
    for (const el of this.list.querySelectorAll(".timer[data-since]")) {
      el.textContent = duration((Date.now() - Date.parse(el.dataset.since)) / 1000);
    }
  }

  /**
   * An ended card folds to one line once a newer card came (the agent moved on), unless the
   * agent opened it again or is still writing in it; the newest stays open for its notes.
   */
  folded(card) {
    if (card.status !== "ended" || card.expanded) return false;
    const active = document.activeElement;
    const typing = card.el.contains(active) && active.matches("input, textarea, select");
    if (typing || card.work?.dirty || card.form?.dataset.dirty) return false;
    const keys = [...this.cards.keys()];
    return keys.indexOf(card.key) < keys.length - 1;
  }

  /** A pop, withdraw or end message from the socket. */
  handle(message) {
    const key = this.keyFor(message);
    let card = this.cards.get(key);
    if (message.type === "enrichment") {
      // What the other systems said about this call's caller, after its pop went out.
      if (!card) return;
      card.message = { ...card.message, enrichment: merged(card.message.enrichment, message.enrichment) };
      remember(card.message.customers, card.message.enrichment);
      this.render(card);
      this.changed();
      return;
    }
    if (message.type === "pop") {
      const before = card?.status === "live" ? card.message.state : null;
      if (!card) card = this.add(key, message);
      clearTimeout(card.timer);
      // A placed call keeps its ref even when a message about it came without it.
      const ref = card.message.origination;
      const enrichment = merged(card.message.enrichment, message.enrichment);
      card.message = ref && !message.origination ? { ...message, origination: ref } : message;
      if (enrichment) card.message = { ...card.message, enrichment };
      remember(card.message.customers, enrichment);
      card.status = "live";
      this.render(card);
      if (placed(card)) {
        if (before !== message.state) this.announceProgress(card);
      } else if (ALERT_STATES.has(message.state) && before !== message.state) this.alert(card);
      else if (message.state === "dialling" && before !== "dialling") {
        this.announce(t("announce_dialling", { who: who(message) }));
      } else if (!ALERT_STATES.has(message.state)) unnotify(key);
    } else if (card || message.origination) {
      // A withdraw or end for a call this tab shows (others are nothing to take away), or
      // for one the agent placed (a failure before any call existed comes only this way).
      card ??= this.add(key, message);
      card.message = { ...card.message, ...message, origination: card.message.origination };
      card.status = message.type === "end" ? "ended" : placed(card) ? "failed" : "withdrawn";
      unnotify(card.key);
      this.render(card);
      if (card.status === "withdrawn") {
        this.announce(`${who(card.message)}: ${withdrawnText(card.message)}`);
        card.timer = setTimeout(() => this.expire(card), WITHDRAWN_MS);
      } else {
        if (card.status === "failed") this.announceProgress(card);
        this.trimEnded();
      }
    }
    this.changed();
  }

  /** The card a message belongs to: its ref's, else its call's (or the placed call's it is). */
  keyFor(message) {
    const plain = plainKey(message);
    if (message.origination) {
      const key = keyOf(message);
      if (!this.cards.has(key)) this.adopt(message, key);
      this.aliases.set(plain, key);
      return key;
    }
    const alias = this.aliases.get(plain);
    if (alias && this.cards.has(alias)) return alias;
    if (!this.cards.has(plain) && message.type === "pop" && message.direction === "outbound") {
      const card = this.requestedFor(message, null);
      if (card) {
        this.aliases.set(plain, card.key);
        return card.key;
      }
    }
    return plain;
  }

  /**
   * The first message of a placed call that came before the answer to its request (the PBX
   * can be that quick): the card made at the click becomes the call's.
   */
  adopt(message, key) {
    const card = this.requestedFor(message, "local|");
    if (!card) return;
    this.rekey(card, key);
    card.message = { ...card.message, origination: message.origination };
  }

  /** A card still waiting for its call's first news, for the number this message is about. */
  requestedFor(message, prefix) {
    const now = Date.now();
    return [...this.cards.values()].find(
      (c) =>
        placed(c) &&
        (!prefix || c.key.startsWith(prefix)) &&
        c.status === "live" &&
        c.message.state === "requested" &&
        now - (c.requestedAt ?? 0) < ADOPT_MS &&
        Boolean(message.e164) &&
        c.message.e164 === message.e164,
    );
  }

  rekey(card, key) {
    const old = card.key;
    this.cards.delete(old);
    unnotify(old);
    card.key = key;
    this.cards.set(key, card);
    for (const [plain, to] of this.aliases) if (to === old) this.aliases.set(plain, key);
  }

  add(key, message, status = "live") {
    const el = h("li", { class: "pop" });
    const card = { key, message, status, el, form: null, quick: null, work: null, timer: null };
    this.cards.set(key, card);
    this.list.prepend(card.el);
    // The ended cards before it fold to one line.
    for (const other of this.cards.values()) {
      if (other !== card && other.status === "ended" && other.el.dataset.folded !== "true") {
        this.render(other);
      }
    }
    return card;
  }

  // --- calls placed from the panel (dialling.js) ------------------------------------------

  /** The agent clicked "call": a card at once, before the server has answered. */
  requested({ display, e164, customer }) {
    const message = {
      type: "pop",
      origination: "",
      pbx: "",
      linkedid: "",
      direction: "outbound",
      number: display,
      number_display: display,
      e164,
      known: Boolean(customer),
      customers: customer ? [customer] : [],
      state: "requested",
      reason: "",
      started_at: new Date().toISOString(),
    };
    const card = this.add(`local|${++localSeq}`, message);
    card.requestedAt = Date.now();
    this.render(card);
    this.changed();
    this.announceProgress(card);
    card.el.scrollIntoView?.({ block: "nearest" });
    return card;
  }

  /** The server accepted the request: the card is the call's (keyed by its ref) from now. */
  accepted(card, origination) {
    const key = `o|${origination.ref}`;
    if (card.key === key || this.cards.get(card.key) !== card) return; // adopted, or closed
    const other = this.cards.get(key);
    if (other) {
      // The call's first news came before this answer, on a card of its own (the number was
      // written differently): that card stays, with the customer the agent called.
      if (!other.message.customers?.length && card.message.customers.length) {
        other.message = { ...other.message, known: true, customers: card.message.customers };
        this.render(other);
      }
      this.remove(card);
      return;
    }
    this.rekey(card, key);
    // Named by its ref until the call's own messages name it (they may have already).
    const heard = Boolean(card.message.linkedid);
    card.message = {
      ...card.message,
      origination: origination.ref,
      pbx: heard ? card.message.pbx : origination.pbx,
      linkedid: heard ? card.message.linkedid : origination.ref,
      e164: card.message.e164 ?? origination.e164,
    };
    this.aliases.set(plainKey(card.message), key);
    this.render(card);
    this.changed();
  }

  /** The server refused the request (`refusal`): the card says why, and stays until closed. */
  refused(card, refusal) {
    if (this.cards.get(card.key) !== card) return;
    card.message = { ...card.message, state: "failed", reason: "", refusal };
    card.status = "failed";
    this.render(card);
    this.announceProgress(card);
    this.trimEnded();
    this.changed();
  }

  /** Tell a screen reader how a placed call is going, in words. */
  announceProgress(card) {
    const m = card.message;
    const whom = who(m);
    if (card.status === "failed") {
      this.announce(t("announce_orig_failed", { who: whom, why: failureText(m) }));
    } else if (card.status === "live" && m.state === "requested") {
      this.announce(t("announce_requested", { who: whom }));
    } else if (card.status === "live" && PLACED_STATES.has(m.state)) {
      this.announce(t(`progress_${m.state}`, { who: whom }));
    }
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
      const card = this.add(keyOf(message), message, status);
      // The later messages of a placed call may name only its call.
      if (message.origination) this.aliases.set(plainKey(message), card.key);
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
    this.aliases.clear();
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
    // Said at once: the agent answers a customer whose contract has run out differently.
    const lapsed = (m.customers ?? []).filter(expired);
    this.announce(
      [text, ...lapsed.map((c) => t("announce_contract_expired", { name: c.name }))].join(". "),
    );
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
    const busy =
      card.el.contains(document.activeElement) || card.form?.dataset.dirty || card.work?.dirty;
    if (!busy) this.remove(card);
  }

  remove(card) {
    clearTimeout(card.timer);
    const focused = card.el.contains(document.activeElement);
    card.el.remove();
    this.cards.delete(card.key);
    for (const [plain, key] of this.aliases) if (key === card.key) this.aliases.delete(plain);
    unnotify(card.key);
    if (focused) $("pops-h").focus();
    this.changed();
  }

  trimEnded() {
    const ended = [...this.cards.values()].filter((c) => ["ended", "failed"].includes(c.status));
    // Map order is arrival order: the oldest ended calls go first.
    for (const card of ended.slice(0, Math.max(0, ended.length - KEEP_ENDED))) this.remove(card);
  }

  /** What the live cards say the agent's line is doing: on a call, ringing, or neither. */
  line() {
    const live = [...this.cards.values()].filter((c) => c.status === "live");
    if (live.some((c) => TAKEN_STATES.has(c.message.state))) return "on_call";
    if (live.some((c) => ["ringing", "transferred", "agent_ringing"].includes(c.message.state))) {
      return "ringing";
    }
    return null;
  }

  changed() {
    this.onLine(this.line());
    this.empty.hidden = this.cards.size > 0;
    const kept = [...this.cards.values()]
      // A card whose request was never answered has nothing to resume.
      .filter((c) => c.status !== "withdrawn" && !c.key.startsWith("local|"))
      .map((c) => ({ message: c.message, status: c.status }));
    // Newest first, as shown.
    sessionStorage.setItem(CARDS, JSON.stringify(kept.reverse()));
  }

  render(card) {
    const m = card.message;
    const titleId = `${card.key.replace(/[^\w-]/g, "_")}-title`;
    card.el.dataset.state = card.status === "live" ? m.state : card.status;
    card.el.classList.toggle("placed", placed(card));
    card.el.setAttribute("aria-labelledby", titleId);
    // A request still unanswered by the PBX may be put away; a call under way may not.
    const closable = card.status !== "live" || (placed(card) && m.state === "requested");
    // The agent may be typing in the quick-create form or a note: those are moved, not
    // rebuilt, and keep the keyboard (and where the caret was).
    const active = document.activeElement;
    const typing = [card.form, card.work?.el].some((el) => el?.contains(active)) ? active : null;
    const range = typing?.setSelectionRange ? [typing.selectionStart, typing.selectionEnd] : null;
    const work = this.work(card);
    const folded = this.folded(card);
    card.el.dataset.folded = String(folded);
    const bodyId = `${titleId}-body`;
    const since = card.status === "live" ? timerStart(m) : null;
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
                placed(card) ? t("click_to_call") : null,
                m.queue ? t("queue", { queue: m.queue }) : null,
                // Passed on by a colleague: still said once answered (the badge then says
                // "on a call").
                transferredFrom(card) ? t("transferred_from", { name: m.transferred_by }) : null,
                m.started_at ? timeElement(m.started_at) : null,
                since
                  ? h("span", {
                      class: "timer",
                      dir: "ltr",
                      "data-since": since,
                      title: t(m.answered_at ? "talk_timer" : "ring_timer"),
                      text: duration((Date.now() - Date.parse(since)) / 1000),
                    })
                  : null,
                folded && m.customers?.length ? h("bdi", { class: "pop-who", text: m.customers[0].name }) : null,
              ],
              t("sep"),
            ),
          ),
          card.status === "ended" && (folded || card.expanded)
            ? h("button", {
                type: "button",
                class: "unfold secondary small",
                "aria-expanded": String(!folded),
                "aria-controls": bodyId,
                text: t(folded ? "show_card" : "fold_card"),
                onclick: () => {
                  card.expanded = folded;
                  this.render(card);
                },
              })
            : null,
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
        h(
          "div",
          { class: "pop-body", id: bodyId, hidden: folded },
          placed(card) ? progress(card) : null,
          card.status !== "live" ? callBack(card) : null,
          work && m.tracking_codes?.length ? callCodes(m.tracking_codes, this.openCase) : null,
          m.known ? this.matches(m.customers) : this.quickCreate(card),
          enrichmentBlock(m.enrichment),
          work,
          m.last_calls ? pastCalls(m.last_calls, this.openCase) : null,
        ),
      ),
    );
    typing?.focus();
    if (range) typing.setSelectionRange(...range);
    // Folded under the keyboard: the focus stays on the card (its "details" button).
    if (!typing && card.el.contains(active) === false && active?.isConnected === false) {
      card.el.querySelector(".unfold")?.focus();
    }
  }

  /** The agent's notes and disposition, once the call is theirs (answered, or over). */
  work(card) {
    const m = card.message;
    const taken = card.status === "ended" || (card.status === "live" && TAKEN_STATES.has(m.state));
    if (!m.call_id || !taken) return null;
    card.work ??= new CallWork(m.call_id, {
      announce: (text) => this.announce(text),
      onCode: (code) => this.addCode(card, code),
    });
    card.work.update(m);
    return card.work.el;
  }

  /** The call joined a case (a code issued, or the one the caller quoted): shown at once. */
  addCode(card, code) {
    const codes = card.message.tracking_codes ?? [];
    if (!codes.some((c) => c.code === code.code)) {
      const { status, subject, created_at } = code;
      card.message = {
        ...card.message,
        tracking_codes: [...codes, { code: code.code, status, subject, created_at }],
      };
    }
    if (this.cards.get(card.key) === card) {
      this.render(card);
      this.changed();
    }
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
            contractBadge(c.contract),
          ),
          c.company ? h("p", { class: "match-company", text: c.company }) : null,
          c.address ? h("p", { class: "match-address muted", text: c.address }) : null,
          tagList(c.tags),
          openCases(c.open_tracking_codes, this.openCase),
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

/** When a live card's timer starts: the answer (talk time), else the call's start (ringing). */
function timerStart(m) {
  if (TAKEN_STATES.has(m.state)) return m.answered_at || null;
  return m.started_at || null;
}

/** The colleague who passed this call on to the agent, once it is no longer ringing. */
function transferredFrom(card) {
  const m = card.message;
  if (!m.transferred_by || placed(card) || card.status === "withdrawn") return false;
  return !(card.status === "live" && (m.state === "transferred" || m.reason === "transferred"));
}

/** How the announcer and notifications name the caller. */
function who(m) {
  const name = m.customers?.[0]?.name || m.caller_name;
  const number = digits(m.number_display || m.number || "");
  return name ? `${name} (${number})` : number;
}

/** What a placed call is doing, in a sentence (the badge has it in a word). */
function progress(card) {
  const m = card.message;
  let text = null;
  if (card.status === "failed") text = failureText(m);
  else if (card.status === "live" && PLACED_STATES.has(m.state)) {
    text = t(`progress_${m.state}`, { who: who(m) });
  }
  if (!text) return null;
  return h("p", { class: card.status === "failed" ? "pop-progress error" : "pop-progress", text });
}

/** Call the number again from a card that is over (a missed call, a failed attempt). */
function callBack(card) {
  const m = card.message;
  const number = m.number_display || m.number;
  if (!number || (m.direction === "internal" && !m.e164)) return null;
  // Taken by a colleague or passed on: nothing to call back.
  if (card.status === "withdrawn" && ["answered", "transferred"].includes(m.reason)) return null;
  const customers = m.customers ?? [];
  // Refused because another call is under way: the agent may place it all the same.
  const anyway = card.status === "failed" && m.refusal?.status === 409;
  return h(
    "p",
    { class: "pop-actions" },
    callButton({
      number,
      e164: m.e164 || null,
      // Several customers sharing a line: the call is to the line, not one of them.
      customer: customers.length === 1 ? customers[0] : null,
      text: anyway ? t("call_anyway") : placed(card) ? t("call_again") : t("call"),
      confirm: anyway,
    }),
  );
}

/** Why a placed call did not go through. */
function failureText(m) {
  if (m.refusal) return refusalText(m.refusal);
  return tMaybe(`failure_${m.reason}`) || withdrawnText(m);
}

function stateText(card) {
  const m = card.message;
  if (card.status === "ended") return t("state_ended");
  if (card.status === "failed") return t("state_failed");
  if (card.status === "withdrawn") return withdrawnText(m);
  if (placed(card) && m.state === "dialling") return t("orig_dialling");
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
