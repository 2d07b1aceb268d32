// Customers: the customer card (details, support contracts, numbers, notes, call history
// with the calls' dispositions and recordings, edit), and the pieces the pop cards and the
// phonebook show a customer with. All through the REST API.

import { ApiError, api } from "./api.js";
import { callButton } from "./dialling.js";
import { $, h, joined, newId, showFormErrors } from "./dom.js";
import { enrichmentBlock, enrichmentFor, onRemembered } from "./enrichment.js";
import { applyLang, digits, dispositionText, duration, t, tMaybe, timeElement } from "./i18n.js";
import { serverText } from "./errors.js";
import { Player } from "./recordings.js";

const HISTORY_PAGE = 20;
const HISTORY_COLUMNS = ["date", "direction", "number_col", "agent", "outcome", "talk_time"];

// --- small pieces shared with the pop cards ------------------------------------------------

/** A number as text that keeps its digit groups in order inside right-to-left text. */
export const numberText = (text) => h("span", { class: "number", dir: "ltr", text: digits(text) });

export function priorityBadge(priority) {
  if (!priority) return null;
  return priority === "VIP"
    ? h("span", { class: "badge vip", text: t("vip") })
    : h("span", { class: "badge priority", text: t("priority_value", { p: priority }) });
}

export function tagList(tags) {
  if (!tags?.length) return null;
  return h(
    "ul",
    { class: "tags", "aria-label": t("tags") },
    tags.map((tag) => h("li", { text: tag })),
  );
}

export const phoneLabel = (label) => tMaybe(`label_${String(label ?? "").toLowerCase()}`) ?? label;
export const outcomeText = (outcome) => tMaybe(`outcome_${outcome}`) ?? outcome;
export const directionText = (d) => tMaybe(`direction_${d}`) ?? d;

/** The extension of a device (PJSIP/1001 -> 1001), as the call log names who answered. */
export const extensionOf = (device) => (device || "").split("/").pop().split("-")[0];

/** Create a customer with one number (the quick-create form of an unknown caller). */
export function createCustomer({ name, company, number }) {
  return api("/api/customers", {
    method: "POST",
    body: { name, company, phones: [{ number, label: "mobile" }] },
  });
}

/** A labelled input (or select/textarea) that names its API field for error messages. */
export function field(labelKey, control, hintKey = null) {
  control.id ||= newId("f");
  const hint = hintKey ? h("span", { class: "hint", "data-i18n": hintKey, text: t(hintKey) }) : null;
  if (hint) {
    hint.id = `${control.id}-hint`;
    control.dataset.hint = hint.id;
    control.setAttribute("aria-describedby", hint.id);
  }
  return h(
    "p",
    { class: "field" },
    h("label", { for: control.id, "data-i18n": labelKey, text: t(labelKey) }),
    hint,
    control,
  );
}

// --- the customer card ------------------------------------------------------------------

export class CustomerCard {
  /**
   * `onSaved(customer)` lets the rest of the panel show the new details too; `contracts`
   * (a ContractSection) shows the customer's support contracts; `extraCell(call)` may add a
   * cell drawn under a call's row (supervisors' reviews of it); `texts` (a TextSection) shows
   * the texts sent to the customer and the form to send one.
   */
  constructor({ onSaved, contracts = null, texts = null, extraCell = null }) {
    this.extraCell = extraCell;
    this.section = $("customer");
    this.body = $("customer-body");
    this.heading = $("customer-h");
    this.onSaved = onSaved;
    this.contracts = contracts;
    this.texts = texts;
    this.customer = null;
    this.calls = [];
    this.nextCursor = null;
    this.editing = null; // the edit form while it is open
    this.loading = null;
    // recording id -> its Player, kept across re-renders (a language switch, "more") so what
    // plays keeps playing; let go when another customer is shown.
    this.players = new Map();
    document.addEventListener("langchange", () => this.render());
    onRemembered(() => {
      if (this.customer && enrichmentFor(this.customer.id)) this.render();
    });
  }

  /** Load and show a customer; `focus` moves the keyboard there (the agent asked for it). */
  async open(id, { focus = true } = {}) {
    this.loading?.abort();
    const loading = new AbortController();
    this.loading = loading;
    this.editing = null;
    if (String(this.customer?.id) !== String(id)) this.dropPlayers();
    this.body.replaceChildren(h("p", { class: "muted", text: t("loading") }));
    this.body.setAttribute("aria-busy", "true");
    this.contracts?.load(id);
    try {
      const [customer, page] = await Promise.all([
        api(`/api/customers/${id}`, { signal: loading.signal }),
        api(`/api/customers/${id}/calls?limit=${HISTORY_PAGE}`, { signal: loading.signal }),
      ]);
      this.customer = customer;
      this.calls = page.items;
      this.nextCursor = page.next_cursor;
      this.texts?.load(customer);
      this.render();
      if (focus) this.heading.focus();
    } catch (err) {
      if (err.name === "AbortError") return;
      this.body.replaceChildren(h("p", { class: "error", role: "alert", text: errorText(err) }));
    } finally {
      if (this.loading === loading) this.body.removeAttribute("aria-busy");
    }
  }

  /**
   * Load the shown customer again, in place (a call with them just ended): no "loading",
   * the keyboard left where it is; nothing while the agent is editing them.
   */
  async refresh() {
    const id = this.customer?.id;
    if (id === undefined || this.editing || this.body.hasAttribute("aria-busy")) return;
    const loading = new AbortController();
    this.loading = loading;
    try {
      const [customer, page] = await Promise.all([
        api(`/api/customers/${id}`, { signal: loading.signal }),
        api(`/api/customers/${id}/calls?limit=${HISTORY_PAGE}`, { signal: loading.signal }),
      ]);
      if (this.loading !== loading || this.editing || this.customer?.id !== id) return;
      this.customer = customer;
      this.calls = page.items;
      this.nextCursor = page.next_cursor;
      this.texts?.load(customer);
      this.render();
    } catch {
      // Kept as it was shown; the next call's end (or opening it again) tries again.
    } finally {
      if (this.loading === loading) this.loading = null;
    }
  }

  clear() {
    this.loading?.abort();
    this.dropPlayers();
    this.contracts?.clear();
    this.texts?.clear();
    this.customer = null;
    this.editing = null;
    this.render();
  }

  render() {
    const c = this.customer;
    if (!c) {
      this.body.replaceChildren(h("p", { class: "muted", text: t("no_customer") }));
      return;
    }
    if (this.editing) {
      applyLang(this.editing);
      return;
    }
    const nameId = newId("customer-name");
    this.body.replaceChildren(
      h(
        "article",
        { class: "customer", "aria-labelledby": nameId },
        h(
          "header",
          { class: "customer-head" },
          h("h3", { id: nameId, text: c.name }),
          h("span", { class: "badge", text: t(`kind_${c.kind}`) }),
          priorityBadge(c.priority),
          h("button", {
            type: "button",
            class: "secondary",
            text: t("edit"),
            "aria-label": t("edit_customer", { name: c.name }),
            onclick: () => this.edit(),
          }),
        ),
        facts(c),
        enrichmentBlock(enrichmentFor(c.id)),
        this.contracts?.el,
        h("h4", { text: t("numbers") }),
        h(
          "ul",
          { class: "phones" },
          c.phones.map((p) =>
            h(
              "li",
              {},
              callButton({ number: p.number, e164: p.e164, customer: c }),
              p.extension ? [" ", numberText(`#${p.extension}`)] : null,
              " ",
              h("span", { class: "muted", text: phoneLabel(p.label) }),
            ),
          ),
        ),
        c.notes ? [h("h4", { text: t("notes") }), h("p", { class: "notes", text: c.notes })] : null,
        h("h4", { text: t("call_history") }),
        this.history(),
        this.texts?.el,
      ),
    );
  }

  history() {
    if (!this.calls.length) return h("p", { class: "muted", text: t("no_calls_yet") });
    const more = this.nextCursor
      ? h("button", {
          type: "button",
          class: "secondary",
          text: t("more"),
          onclick: () => this.moreCalls(),
        })
      : null;
    return [
      h(
        "table",
        { class: "history" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            HISTORY_COLUMNS.map((key) => h("th", { scope: "col", text: t(key) })),
            // The recordings' cell is drawn under the call's (panel.css): its header is
            // for screen readers only.
            h("th", { scope: "col", class: "visually-hidden", text: t("recording_col") }),
          ),
        ),
        h(
          "tbody",
          {},
          this.calls.map((call) =>
            h(
              "tr",
              {},
              h("td", {}, timeElement(call.started_at)),
              h(
                "td",
                {},
                joined(
                  [directionText(call.direction), call.queue ? t("queue", { queue: call.queue }) : null],
                  t("sep"),
                ),
              ),
              h("td", {}, this.numberCell(call)),
              h("td", {}, call.answered_by ? numberText(extensionOf(call.answered_by)) : "—"),
              h(
                "td",
                {},
                joined(
                  [outcomeText(call.outcome), call.disposition ? dispositionText(call.disposition) : null],
                  t("sep"),
                ),
              ),
              h("td", {}, call.talk_seconds ? h("span", { dir: "ltr", text: duration(call.talk_seconds) }) : "—"),
              this.recordings(call),
              this.extraCell?.(call),
            ),
          ),
        ),
      ),
      more,
    ];
  }

  /**
   * The call's recordings the agent may play (none for a colleague's call): a player each,
   * or why there is nothing to play; a cell of the call's row, drawn under it.
   */
  recordings(call) {
    const files = call.recording_files ?? [];
    if (!files.length) return null;
    return h(
      "td",
      { class: "recordings" },
      files.map((file, index) => this.player(call, file, index, files.length).el),
    );
  }

  player(call, file, index, count) {
    let player = this.players.get(file.id);
    if (!player) {
      player = new Player({ onRefresh: () => this.refreshRecordings(call.id) });
      this.players.set(file.id, player);
    }
    player.update(file, index, count);
    return player;
  }

  /**
   * Ask again for a call's recordings (one that had not arrived may have since). A failure
   * is thrown to the player that asked, which says so.
   */
  async refreshRecordings(callId) {
    const c = this.customer;
    const files = await api(`/api/calls/${callId}/recordings`);
    const call = this.calls.find((one) => one.id === callId);
    if (this.customer !== c || !call) return;
    const before = (call.recording_files ?? []).map((f) => f.id).join();
    call.recording_files = files;
    if (files.map((f) => f.id).join() !== before) {
      this.render();
      return;
    }
    // The same recordings: each player changes in place and keeps the keyboard.
    files.forEach((file, index) => this.players.get(file.id)?.update(file, index, files.length));
  }

  dropPlayers() {
    for (const player of this.players.values()) player.dispose();
    this.players.clear();
  }

  /** The customer's number on a past call, to call it again. */
  numberCell(call) {
    const number = call.number_display || call.customer_number;
    if (!number && !call.customer_e164) return "—";
    return callButton({ number, e164: call.customer_e164, customer: this.customer });
  }

  async moreCalls() {
    const c = this.customer;
    const cursor = encodeURIComponent(this.nextCursor);
    try {
      const page = await api(`/api/customers/${c.id}/calls?limit=${HISTORY_PAGE}&cursor=${cursor}`);
      if (this.customer !== c) return;
      this.calls = this.calls.concat(page.items);
      this.nextCursor = page.next_cursor;
      this.render();
    } catch (err) {
      this.body.append(h("p", { class: "error", role: "alert", text: errorText(err) }));
    }
  }

  edit() {
    const c = this.customer;
    const inputs = {
      name: h("input", { "data-field": "name", required: true, maxlength: 200, value: c.name, autocomplete: "off" }),
      kind: h(
        "select",
        { "data-field": "kind" },
        ["person", "organization"].map((k) =>
          h("option", { value: k, "data-i18n": `kind_${k}`, text: t(`kind_${k}`), selected: k === c.kind }),
        ),
      ),
      company: h("input", { "data-field": "company", maxlength: 200, value: c.company, autocomplete: "off" }),
      address: h("textarea", { "data-field": "address", rows: 2, maxlength: 2000, value: c.address }),
      email: h("input", { "data-field": "email", type: "email", dir: "ltr", value: c.email ?? "", autocomplete: "off" }),
      tags: h("input", { "data-field": "tags", value: c.tags.join("، "), autocomplete: "off" }),
      priority: h(
        "select",
        { "data-field": "priority" },
        h("option", { value: "", "data-i18n": "priority_none", text: t("priority_none"), selected: !c.priority }),
        ["VIP", "A", "B", "C"].map((p) => h("option", { value: p, text: p, selected: p === c.priority })),
      ),
      notes: h("textarea", { "data-field": "notes", rows: 4, maxlength: 10000, value: c.notes }),
    };
    const save = h("button", { type: "submit", "data-i18n": "save", text: t("save") });
    const headingId = newId("edit-h");
    const form = h(
      "form",
      { class: "edit-customer", "aria-labelledby": headingId, novalidate: true },
      h("h3", { id: headingId, text: t("edit_customer", { name: c.name }) }),
      field("name", inputs.name),
      field("kind", inputs.kind),
      field("company", inputs.company),
      field("address", inputs.address),
      field("email", inputs.email),
      field("tags", inputs.tags, "tags_hint"),
      field("priority", inputs.priority),
      field("notes", inputs.notes),
      h("p", { class: "form-error", role: "alert" }),
      h(
        "p",
        { class: "actions" },
        save,
        h("button", {
          type: "button",
          class: "secondary",
          "data-i18n": "cancel",
          text: t("cancel"),
          onclick: () => this.stopEditing(),
        }),
      ),
    );
    form.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.stopEditing();
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const changes = changed(c, {
        name: inputs.name.value.trim(),
        kind: inputs.kind.value,
        company: inputs.company.value.trim(),
        address: inputs.address.value.trim(),
        email: inputs.email.value.trim() || null,
        tags: inputs.tags.value.split(/[,،]/).map((s) => s.trim()).filter(Boolean),
        priority: inputs.priority.value || null,
        notes: inputs.notes.value,
      });
      if (!Object.keys(changes).length) {
        this.stopEditing();
        return;
      }
      save.disabled = true;
      save.textContent = t("saving");
      try {
        const saved = await api(`/api/customers/${c.id}`, { method: "PATCH", body: changes });
        this.customer = saved;
        this.stopEditing();
        this.onSaved?.(saved);
      } catch (err) {
        showFormErrors(form, err.error, errorText(err));
      } finally {
        save.disabled = false;
        save.textContent = t("save");
      }
    });
    this.editing = form;
    this.body.replaceChildren(form);
    inputs.name.focus();
  }

  stopEditing() {
    this.editing = null;
    this.render();
    this.heading.focus();
  }
}

function facts(c) {
  const rows = [
    ["company", c.company],
    ["address", c.address],
    ["email", c.email],
  ].filter(([, value]) => value);
  const tags = tagList(c.tags);
  if (!rows.length && !tags) return null;
  return h(
    "dl",
    { class: "facts" },
    rows.map(([key, value]) => [
      h("dt", { text: t(key) }),
      h("dd", { text: value, dir: key === "email" ? "ltr" : null }),
    ]),
    tags ? [h("dt", { text: t("tags") }), h("dd", {}, tags)] : null,
  );
}

function changed(before, after) {
  const out = {};
  for (const [key, value] of Object.entries(after)) {
    if (JSON.stringify(before[key] ?? null) !== JSON.stringify(value ?? null)) out[key] = value;
  }
  return out;
}

/** What to tell the agent about a failed request, in the panel's language. */
export function errorText(err) {
  if (!(err instanceof ApiError)) return t("request_failed");
  if (err.status === 0) return t("network_error");
  return serverText(err.error, err.status);
}
