// What a pop card shows and takes beyond who is calling: the call's tracking code to read
// out, each customer's open cases, past calls with their dispositions and notes, and the
// agent's work on the call (a disposition, notes, a new tracking code or the one the caller
// quotes).

import { api, currentUser } from "./api.js";
import {
  codeDigits,
  codeProblem,
  codeText,
  copyButton,
  groupedCode,
  typingProblem,
} from "./codes.js";
import { errorText, field, outcomeText } from "./customers.js";
import { h, joined, newId } from "./dom.js";
import { applyLang, digits, dispositionText, duration, t, timeElement } from "./i18n.js";

let options = null;

/** What an agent picks from (GET /api/agent/options): asked once per sign-in. */
export function agentOptions() {
  options ??= api("/api/agent/options").catch((err) => {
    options = null;
    throw err;
  });
  return options;
}

export function forgetOptions() {
  options = null;
}

/** A button that opens the case `code` in the cases tab. */
function caseButton(code, openCase, text = null) {
  return h("button", {
    type: "button",
    class: text ? "secondary small" : "link code-link",
    dir: text ? null : "ltr",
    text: text ?? digits(groupedCode(code)),
    "aria-label": t("show_case_label", { code: digits(groupedCode(code)) }),
    onclick: () => openCase(code),
  });
}

/** The call's own tracking code(s), large, to read out and copy. */
export function callCodes(codes, openCase) {
  const headingId = newId("code");
  return h(
    "section",
    { class: "call-code", "aria-labelledby": headingId },
    h("h4", { id: headingId, text: t("call_code") }),
    codes.map((c) => {
      const shown = codeText(c.code, "code code-big");
      return h(
        "p",
        { class: "code-row" },
        shown,
        copyButton(c.code, shown),
        caseButton(c.code, openCase, t("show_case")),
      );
    }),
    h("p", { class: "hint", text: t("call_code_hint") }),
  );
}

/** A customer's open cases: code (opens the case), subject, when opened. */
export function openCases(codes, openCase) {
  if (!codes?.length) return null;
  const headingId = newId("cases");
  return h(
    "section",
    { class: "open-cases", "aria-labelledby": headingId },
    h("h4", { id: headingId, text: t("open_cases") }),
    h(
      "ul",
      {},
      codes.map((c) =>
        h(
          "li",
          {},
          joined([caseButton(c.code, openCase), c.subject, timeElement(c.created_at)], t("sep")),
        ),
      ),
    ),
  );
}

/** The number's last calls, each with its disposition, codes and notes. */
export function pastCalls(calls, openCase) {
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
              h(
                "p",
                {},
                joined(
                  [
                    timeElement(c.started_at),
                    outcomeText(c.outcome),
                    c.agent ? t("by_agent", { name: c.agent }) : null,
                    talkTime(c.talk_seconds),
                    dispositionBadge(c.disposition),
                    ...(c.tracking_codes ?? []).map((code) => caseButton(code.code, openCase)),
                  ],
                  t("sep"),
                ),
              ),
              noteList(c.notes ?? []),
            ),
          ),
        )
      : h("p", { class: "muted", text: t("no_last_calls") }),
  );
}

/** How long a call was talked, m:ss (null when it was not). */
export const talkTime = (seconds) =>
  seconds ? h("span", { dir: "ltr", text: duration(seconds) }) : null;

/** A call's disposition, as a badge (null when none was picked). */
export function dispositionBadge(disposition) {
  if (!disposition) return null;
  return h("span", { class: "badge disposition", text: dispositionText(disposition) });
}

/** An element whose text is the UI string `key`, in the current language (applyLang). */
const worded = (tag, key, attrs = {}) => h(tag, { ...attrs, "data-i18n": key, text: t(key) });

/** Notes as the API gives them (NoteRead), as noteList shows them: the agent's own as "you". */
export function readNotes(notes) {
  const me = currentUser()?.id;
  return notes.map((n) => ({
    text: n.text,
    by: n.user_id === me ? t("you") : "",
    at: n.created_at,
  }));
}

/** Notes as {text, by, at}: what was written, by whom, when. */
export function noteList(notes) {
  if (!notes.length) return null;
  return h(
    "ul",
    { class: "note-list" },
    notes.map((n) =>
      h(
        "li",
        {},
        h("span", { class: "note-text", text: n.text }),
        " ",
        h("span", { class: "muted" }, joined([n.by, timeElement(n.at)], t("sep"))),
      ),
    ),
  );
}

/**
 * The agent's work on a call, on its card: a disposition (one press), notes, and the case
 * it belongs to (issue a code, or add the call to the case of the code the caller quotes).
 * Built once per card and moved, not rebuilt, when the card is redrawn: what is typed stays.
 */
const DRAFT = "tamas.draft.";

/** Drop every note draft kept in this browser (the agent signed out on purpose). */
export function forgetDrafts() {
  for (const key of Object.keys(localStorage)) if (key.startsWith(DRAFT)) localStorage.removeItem(key);
}

export class CallWork {
  /** `onCode(code)` when the call joins a case; `announce(text)` tells a screen reader. */
  constructor(callId, { onCode, announce }) {
    this.callId = callId;
    this.onCode = onCode;
    this.announce = announce;
    this.disposition = "";
    this.dispositions = [];
    this.notes = [];
    this.hasCode = false;

    const headingId = newId("work");
    const pickId = newId("disp");
    this.picker = h("div", { class: "dispositions", role: "group", "aria-labelledby": pickId });
    this.noteList = h("div", { class: "work-notes" });
    this.noteInput = h("textarea", { rows: 2, maxlength: 5000, "data-field": "text" });
    this.noteError = h("p", { class: "form-error", role: "alert" });
    const noteForm = h(
      "form",
      { class: "note-form", novalidate: true },
      field("note", this.noteInput, "note_hint"),
      this.noteError,
      h("p", { class: "actions" }, worded("button", "add_note", { type: "submit" })),
    );
    noteForm.addEventListener("submit", (event) => {
      event.preventDefault();
      this.addNote();
    });
    // The note being written is kept in this browser until it is added: a reload, a crash
    // or a session that ran out does not lose it.
    this.noteInput.value = localStorage.getItem(this.draftKey()) ?? "";
    this.noteInput.addEventListener("input", () => this.keepDraft());
    this.noteInput.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        this.addNote();
      }
    });

    this.issueButton = worded("button", "issue_code", {
      type: "button",
      class: "secondary",
      onclick: () => this.issue(),
    });
    this.codeInput = h("input", {
      dir: "ltr",
      inputmode: "numeric",
      autocomplete: "off",
      maxlength: 40,
      "data-field": "code",
    });
    this.codeError = h("p", { class: "form-error", role: "alert", id: newId("code-error") });
    this.codeInput.addEventListener("input", () =>
      this.checkCode(typingProblem(this.codeInput.value)),
    );
    this.codeInput.id = newId("quoted");
    this.codeInput.setAttribute("aria-describedby", this.codeError.id);
    // The code and its button on one line: the card stays short.
    const codeForm = h(
      "form",
      { class: "code-form", novalidate: true },
      h(
        "p",
        { class: "field" },
        worded("label", "quoted_code", { for: this.codeInput.id }),
        h(
          "span",
          { class: "search-row" },
          this.codeInput,
          worded("button", "link_code", { type: "submit", class: "secondary" }),
        ),
      ),
      this.codeError,
    );
    codeForm.addEventListener("submit", (event) => {
      event.preventDefault();
      this.link();
    });

    this.el = h(
      "section",
      { class: "call-work", "aria-labelledby": headingId },
      worded("h4", "call_work", { id: headingId }),
      worded("p", "disposition", { class: "work-label", id: pickId }),
      this.picker,
      this.noteList,
      noteForm,
      h("p", { class: "actions" }, this.issueButton),
      codeForm,
    );
    this.load();
  }

  /** What was already chosen and written (a reload, another tab, a colleague). */
  async load() {
    try {
      const [opts, call, notes] = await Promise.all([
        agentOptions(),
        api(`/api/calls/${this.callId}`),
        api(`/api/calls/${this.callId}/notes`),
      ]);
      this.dispositions = opts.dispositions;
      this.disposition = call.disposition;
      this.notes = notes;
    } catch (err) {
      this.noteError.textContent = errorText(err);
    }
    this.buildPicker();
    this.render();
  }

  /** The card's latest message: the call's codes decide whether "issue" is offered. */
  update(message) {
    this.hasCode = Boolean(message.tracking_codes?.length);
    this.render();
  }

  draftKey() {
    return `${DRAFT}${currentUser()?.id ?? ""}.${this.callId}`;
  }

  keepDraft() {
    const text = this.noteInput.value;
    if (text.trim()) localStorage.setItem(this.draftKey(), text);
    else localStorage.removeItem(this.draftKey());
  }

  get dirty() {
    return Boolean(this.noteInput.value.trim() || this.codeInput.value.trim());
  }

  buildPicker() {
    this.picker.replaceChildren(
      ...this.dispositions.map((d) =>
        h("button", {
          type: "button",
          class: "chip",
          "data-value": d,
          onclick: () => this.pick(d),
        }),
      ),
    );
  }

  render() {
    applyLang(this.el);
    const { key } = this.codeError.dataset;
    if (key) this.codeError.textContent = t(key);
    for (const button of this.picker.children) {
      button.textContent = dispositionText(button.dataset.value);
      button.setAttribute("aria-pressed", String(button.dataset.value === this.disposition));
    }
    this.noteList.replaceChildren(noteList(readNotes(this.notes)) ?? "");
    this.issueButton.hidden = this.hasCode;
  }

  async pick(disposition) {
    try {
      const call = await api(`/api/calls/${this.callId}/disposition`, {
        method: "PUT",
        body: { disposition },
      });
      this.disposition = call.disposition;
      this.render();
      this.announce(t("disposition_set", { d: dispositionText(call.disposition) }));
    } catch (err) {
      this.noteError.textContent = errorText(err);
    }
  }

  async addNote() {
    const text = this.noteInput.value.trim();
    if (!text) {
      this.noteError.textContent = t("note_empty");
      this.noteInput.focus();
      return;
    }
    this.noteError.textContent = "";
    try {
      const note = await api(`/api/calls/${this.callId}/notes`, {
        method: "POST",
        body: { text },
      });
      this.notes.push(note);
      this.noteInput.value = "";
      this.keepDraft();
      this.render();
      this.announce(t("note_added"));
    } catch (err) {
      this.noteError.textContent = errorText(err);
    }
  }

  async issue() {
    try {
      const code = await api("/api/tracking-codes", {
        method: "POST",
        body: { call_id: this.callId },
      });
      this.announce(t("code_issued", { code: digits(groupedCode(code.code)) }));
      this.onCode(code);
    } catch (err) {
      this.codeError.textContent = errorText(err);
    }
  }

  /** Say what is wrong with the quoted code (an i18n key), or clear it (null). */
  checkCode(problem) {
    this.codeError.textContent = problem ? t(problem) : "";
    if (problem) this.codeError.dataset.key = problem;
    else delete this.codeError.dataset.key;
    if (problem) this.codeInput.setAttribute("aria-invalid", "true");
    else this.codeInput.removeAttribute("aria-invalid");
  }

  async link() {
    const problem = codeProblem(this.codeInput.value);
    this.checkCode(problem);
    if (problem) {
      this.codeInput.focus();
      return;
    }
    const code = codeDigits(this.codeInput.value);
    try {
      const linked = await api(`/api/tracking-codes/${code}/calls`, {
        method: "POST",
        body: { call_id: this.callId },
      });
      this.codeInput.value = "";
      this.announce(t("code_linked", { code: digits(groupedCode(linked.code)) }));
      this.onCode(linked);
    } catch (err) {
      const key = codeErrorKey(err);
      this.checkCode(key);
      if (!key) this.codeError.textContent = errorText(err);
    }
  }
}

/** Why the server refused a code (no such case, mistyped, not a code), as an i18n key. */
export function codeErrorKey(err) {
  if (err?.status === 404) return "case_not_found";
  const code = err?.error?.code;
  if (code === "code_mistyped") return "code_mistyped";
  if (code === "not_a_code") return "code_length";
  return null;
}
