// "Find a case": the tracking code a customer quotes (checked as it is typed), and the case's
// thread: its status (close, reopen), owner, every call with its agent, outcome, disposition,
// recordings and notes.

import { api, currentUser } from "./api.js";
import { codeErrorKey, dispositionBadge, noteList, readNotes, talkTime } from "./casework.js";
import {
  codeDigits,
  codeProblem,
  codeText,
  copyButton,
  groupedCode,
  typingProblem,
} from "./codes.js";
import { directionText, errorText, extensionOf, outcomeText } from "./customers.js";
import { $, h, joined } from "./dom.js";
import "./i18n_followups.js";
import { digits, t, timeElement } from "./i18n.js";
import { Player } from "./recordings.js";

export class CaseFinder {
  /** `openCustomer(id)` shows the case's customer in the customer card. */
  constructor({ openCustomer }) {
    this.form = $("case-form");
    this.input = $("case-code");
    this.error = $("case-error");
    this.body = $("case-body");
    this.said = $("case-status"); // what was just done to the case
    this.openCustomer = openCustomer;
    this.thread = null;
    this.loading = null;
    // recording id -> its Player, kept across re-renders, let go with the thread
    this.players = new Map();
    this.input.addEventListener("input", () => this.problem(typingProblem(this.input.value)));
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.find(this.input.value);
    });
    document.addEventListener("langchange", () => {
      if (this.error.dataset.key) this.error.textContent = t(this.error.dataset.key);
      this.render();
    });
  }

  /** Show the case `code` (from a pop card) and move the keyboard to it. */
  async show(code) {
    this.input.value = groupedCode(code);
    if (await this.find(code)) this.body.querySelector("h3")?.focus();
  }

  /** Look the code up; true when a case was found. */
  async find(text) {
    const problem = codeProblem(text);
    this.problem(problem);
    if (problem) {
      this.input.focus();
      return false;
    }
    this.loading?.abort();
    const loading = new AbortController();
    this.loading = loading;
    this.body.setAttribute("aria-busy", "true");
    try {
      const thread = await api(`/api/tracking-codes/${codeDigits(text)}`, {
        signal: loading.signal,
      });
      if (thread.code !== this.thread?.code) this.dropPlayers();
      this.thread = thread;
      this.said.textContent = "";
      this.render();
      return true;
    } catch (err) {
      if (err.name === "AbortError") return false;
      const key = codeErrorKey(err);
      this.problem(key);
      if (!key) this.error.textContent = errorText(err);
      return false;
    } finally {
      if (this.loading === loading) this.body.removeAttribute("aria-busy");
    }
  }

  /** Say what is wrong with the code typed (an i18n key), or clear it (null). */
  problem(key) {
    this.error.textContent = key ? t(key) : "";
    if (key) this.error.dataset.key = key;
    else delete this.error.dataset.key;
    if (key) this.input.setAttribute("aria-invalid", "true");
    else this.input.removeAttribute("aria-invalid");
  }

  clear() {
    this.loading?.abort();
    this.dropPlayers();
    this.thread = null;
    this.said.textContent = "";
    this.input.value = "";
    this.problem(null);
    this.body.replaceChildren();
  }

  render() {
    const c = this.thread;
    if (!c) return;
    const focused = this.body.contains(document.activeElement) ? document.activeElement : null;
    const keep = focused?.dataset.keep;
    const shown = codeText(c.code, "code code-big");
    const notes = byCall(c.notes);
    this.body.replaceChildren(
      h(
        "article",
        { class: "case", "aria-labelledby": "case-title" },
        h(
          "header",
          { class: "case-head" },
          h("h3", { id: "case-title", tabindex: "-1" }, t("case_title"), " ", shown),
          copyButton(c.code, shown),
          h("span", { class: `badge case-${c.status}`, text: t(`case_${c.status}`) }),
          c.first_response_breached || c.resolution_breached
            ? h("span", { class: "badge sla-breached", text: t("sla_breached") })
            : null,
        ),
        c.subject ? h("p", { class: "case-subject", text: c.subject }) : null,
        slaLine(c),
        h(
          "p",
          { class: "muted" },
          joined(
            [
              c.owner_name ? t("case_owner", { name: c.owner_name }) : null,
              h("span", {}, `${t("case_opened_at")} `, timeElement(c.created_at)),
              c.closed_at
                ? h("span", {}, `${t("case_closed_at")} `, timeElement(c.closed_at))
                : null,
            ],
            t("sep"),
          ),
        ),
        h(
          "p",
          { class: "actions" },
          h("button", {
            type: "button",
            class: "secondary",
            "data-keep": "status",
            text: t(c.status === "open" ? "close_case" : "reopen_case"),
            onclick: () => this.setStatus(c.status === "open" ? "closed" : "open"),
          }),
          c.customer_id
            ? h("button", {
                type: "button",
                class: "secondary",
                text: t("case_customer"),
                onclick: () => this.openCustomer(c.customer_id),
              })
            : null,
        ),
        h("h4", { text: t("case_calls") }),
        c.calls.length
          ? h(
              "ol",
              { class: "case-calls" },
              c.calls.map((call) => this.call(call, notes.get(call.id) ?? [])),
            )
          : h("p", { class: "muted", text: t("case_no_calls") }),
      ),
    );
    if (keep) this.body.querySelector(`[data-keep="${keep}"]`)?.focus();
  }

  call(call, notes) {
    const me = currentUser()?.id;
    const files = call.recording_files ?? [];
    return h(
      "li",
      {},
      h(
        "p",
        {},
        joined(
          [
            timeElement(call.started_at),
            directionText(call.direction),
            call.answered_by_user_id === me
              ? t("by_agent", { name: t("you") })
              : call.answered_by
                ? t("by_agent", { name: digits(extensionOf(call.answered_by)) })
                : null,
            outcomeText(call.outcome),
            talkTime(call.talk_seconds),
            dispositionBadge(call.disposition),
          ],
          t("sep"),
        ),
      ),
      files.map((file, index) => this.player(call, file, index, files.length).el),
      noteList(readNotes(notes)),
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

  async refreshRecordings(callId) {
    const thread = this.thread;
    const files = await api(`/api/calls/${callId}/recordings`);
    const call = thread?.calls.find((one) => one.id === callId);
    if (this.thread !== thread || !call) return;
    call.recording_files = files;
    this.render();
  }

  dropPlayers() {
    for (const player of this.players.values()) player.dispose();
    this.players.clear();
  }

  async setStatus(status) {
    const thread = this.thread;
    try {
      const updated = await api(`/api/tracking-codes/${thread.code}`, {
        method: "PATCH",
        body: { status },
      });
      if (this.thread !== thread) return;
      Object.assign(thread, { status: updated.status, closed_at: updated.closed_at });
      const code = digits(groupedCode(thread.code));
      const done = status === "closed" ? "case_now_closed" : "case_now_open";
      this.said.textContent = t(done, { code });
      this.render();
    } catch (err) {
      this.said.textContent = errorText(err);
    }
  }
}

function byCall(notes) {
  const out = new Map();
  for (const note of notes) out.set(note.call_id, [...(out.get(note.call_id) ?? []), note]);
  return out;
}

/** The case's class and SLA deadlines, the missed ones said so. */
function slaLine(c) {
  const parts = [
    c.category ? t("case_category", { name: c.category }) : null,
    c.priority && c.priority !== "normal" ? t(`priority_${c.priority}`) : null,
    c.first_response_due_at && !c.first_response_at
      ? h("span", { class: c.first_response_breached ? "overdue" : null }, `${t("sla_first_response_due")} `, timeElement(c.first_response_due_at))
      : null,
    c.resolution_due_at && c.status === "open"
      ? h("span", { class: c.resolution_breached ? "overdue" : null }, `${t("sla_resolution_due")} `, timeElement(c.resolution_due_at))
      : null,
  ].filter(Boolean);
  return parts.length ? h("p", { class: "case-sla" }, joined(parts, t("sep"))) : null;
}
