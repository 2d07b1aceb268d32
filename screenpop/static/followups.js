// Follow-ups in the agent panel: the "due" tab (my tasks soonest first, overdue ones marked,
// with the counts "overdue / due today" on the tab; the callbacks due now; a form to add a
// task) and the notices that pop when a reminder or a callback falls due (they come over
// /ws/pops as {type: "reminder"} and {type: "callback_due"}): done, remind me later, call
// back, or dismiss with a reason.

import { notify, ring } from "./alerts.js";
import { ApiError, api } from "./api.js";
import { errorText, numberText } from "./customers.js";
import { callButton, readableNumber } from "./dialling.js";
import { $, h, joined } from "./dom.js";
import "./i18n_followups.js";
import { contractList } from "./reports_followups.js";
import { digits, t, timeElement } from "./i18n.js";

const POLL_MS = 60_000;
const SNOOZE_MINUTES = 10;

export class Followups {
  /** `onCount(n)`: what the tab's badge shows; `openCustomer(id)` shows a card. */
  constructor({ onCount, openCustomer }) {
    this.onCount = onCount;
    this.openCustomer = openCustomer;
    this.body = $("due-body");
    this.noticeList = $("followup-notices");
    this.tasks = [];
    this.callbacks = [];
    this.summary = null;
    this.contracts = [];
    this.problem = "";
    this.notices = []; // {message, problem, dismissing}
    this.shown = new Set(); // "reminder:ID" and "callback_due:ID@due_at" with a notice up
    this.timer = null;
    this.form = this.taskForm();
    document.addEventListener("langchange", () => {
      this.form = this.taskForm();
      this.render();
      this.renderNotices();
    });
  }

  start() {
    this.stop();
    this.refresh();
    this.timer = setInterval(() => this.refresh(), POLL_MS);
  }

  stop() {
    clearInterval(this.timer);
    Object.assign(this, { tasks: [], callbacks: [], summary: null, contracts: [], problem: "", notices: [] });
    this.shown.clear();
    this.render();
    this.renderNotices();
  }

  async refresh() {
    try {
      const [tasks, callbacks, summary, contracts] = await Promise.all([
        api("/api/tasks"),
        api("/api/callbacks?status=due&due_only=true"),
        api("/api/tasks/summary"),
        api("/api/contracts/expiring"),
      ]);
      Object.assign(this, { tasks, callbacks, summary, contracts, problem: "" });
    } catch (err) {
      this.problem = errorText(err);
    }
    this.render();
  }

  // -- the due tab ------------------------------------------------------------------------

  render() {
    const s = this.summary;
    this.onCount(s ? s.overdue + s.due_today + this.callbacks.length : 0);
    const counts = s
      ? h(
          "p",
          { id: "due-summary", class: "due-summary", role: "status" },
          h("span", { class: s.overdue ? "overdue" : null, text: t("due_overdue", { n: digits(s.overdue) }) }),
          t("sep"),
          t("due_today", { n: digits(s.due_today) }),
          t("sep"),
          t("due_callbacks", { n: digits(this.callbacks.length) }),
        )
      : null;
    this.body.replaceChildren(
      counts,
      this.problem ? h("p", { class: "error", role: "alert", text: this.problem }) : null,
      h(
        "section",
        { "aria-labelledby": "due-callbacks-h" },
        h("h3", { id: "due-callbacks-h", text: t("due_callbacks_title") }),
        h(
          "ul",
          { class: "callbacks due-callbacks" },
          this.callbacks.length
            ? this.callbacks.map((c) => this.callbackItem(c))
            : h("li", { class: "muted", text: t("due_callbacks_none") }),
        ),
      ),
      h(
        "section",
        { "aria-labelledby": "due-tasks-h" },
        h("h3", { id: "due-tasks-h", text: t("due_tasks_title") }),
        h(
          "ul",
          { class: "tasks" },
          this.tasks.length
            ? this.tasks.map((task) => this.taskItem(task))
            : h("li", { class: "muted", text: t("due_tasks_none") }),
        ),
      ),
      this.form,
      contractList(this.contracts),
    );
  }

  taskItem(task) {
    return h(
      "li",
      { class: `task${task.overdue ? " overdue" : ""}`, "data-task": task.id },
      h(
        "p",
        {},
        h("strong", { text: task.kind === "contract" ? t("task_contract") : task.title }),
        task.overdue ? [" ", h("span", { class: "badge overdue-badge", text: t("overdue") })] : null,
      ),
      h(
        "p",
        { class: "muted" },
        joined(
          [
            task.due_at ? h("span", {}, `${t("due_at")} `, timeElement(task.due_at)) : t("no_due"),
            task.customer_name
              ? h("button", { type: "button", class: "link", text: task.customer_name, onclick: () => this.openCustomer(task.customer_id) })
              : null,
            task.tracking_code ? t("task_case", { code: digits(task.tracking_code) }) : null,
            task.kind === "contract" && task.notes ? task.notes : null,
          ],
          t("sep"),
        ),
      ),
      h(
        "p",
        { class: "actions" },
        h("button", {
          type: "button",
          class: "secondary small",
          text: t("task_done"),
          "aria-label": t("task_done_label", { title: task.title }),
          onclick: () => this.done(task.id),
        }),
      ),
    );
  }

  callbackItem(callback) {
    const display = readableNumber(callback.number, callback.e164);
    return h(
      "li",
      { class: "callback", "data-callback": callback.id },
      h("p", { class: "callback-who" }, numberText(display), callback.customer_name ? ` ${callback.customer_name}` : null),
      h(
        "p",
        { class: "muted" },
        joined(
          [
            h("span", {}, `${t("due_at")} `, timeElement(callback.due_at)),
            callback.tries ? t("callback_tries", { n: digits(callback.tries), of: digits(callback.max_tries) }) : null,
            callback.queue ? t("queue", { queue: callback.queue }) : null,
            callback.note || null,
          ],
          t("sep"),
        ),
      ),
      this.dismissForm(callback.id, display, () => this.refresh()),
    );
  }

  /** A "dismiss" button that opens a reason field, then sends it. */
  dismissForm(callbackId, display, after) {
    const reason = h("input", { id: `dismiss-reason-${callbackId}`, maxlength: "500", required: true });
    const error = h("p", { class: "form-error", role: "alert" });
    const form = h(
      "form",
      {
        class: "dismiss-form",
        hidden: true,
        novalidate: true,
        onsubmit: async (event) => {
          event.preventDefault();
          if (!reason.value.trim()) {
            error.textContent = t("dismiss_reason_needed");
            reason.focus();
            return;
          }
          try {
            await api(`/api/callbacks/${callbackId}/dismiss`, { method: "POST", body: { reason: reason.value.trim() } });
            $("announcer").textContent = t("callback_dismissed", { number: digits(display) });
            await after();
          } catch (err) {
            error.textContent = err instanceof ApiError && err.status === 409 ? t("callback_done_already") : errorText(err);
          }
        },
      },
      h("label", { for: reason.id, text: t("dismiss_reason") }),
      reason,
      h("button", { type: "submit", class: "small", text: t("dismiss_confirm") }),
      error,
    );
    const open = h("button", {
      type: "button",
      class: "secondary small",
      text: t("dismiss_callback"),
      "aria-label": t("dismiss_callback_label", { number: digits(display) }),
      onclick: () => {
        form.hidden = false;
        open.hidden = true;
        reason.focus();
      },
    });
    return h("div", { class: "actions" }, open, form);
  }

  taskForm() {
    const title = h("input", { id: "task-title", maxlength: "200", required: true, autocomplete: "off" });
    const due = h("input", { id: "task-due", maxlength: "40", dir: "ltr", autocomplete: "off", "aria-describedby": "task-due-hint" });
    const error = h("p", { class: "form-error", role: "alert" });
    return h(
      "form",
      {
        class: "task-form",
        novalidate: true,
        "aria-labelledby": "task-form-h",
        onsubmit: async (event) => {
          event.preventDefault();
          error.textContent = "";
          try {
            await api("/api/tasks", { method: "POST", body: { title: title.value.trim(), due_at: due.value.trim() || null } });
            title.value = "";
            due.value = "";
            $("announcer").textContent = t("task_added");
            await this.refresh();
          } catch (err) {
            error.textContent = errorText(err);
          }
        },
      },
      h("h3", { id: "task-form-h", text: t("task_add") }),
      h("p", { class: "field" }, h("label", { for: "task-title", text: t("task_title") }), title),
      h(
        "p",
        { class: "field" },
        h("label", { for: "task-due", text: t("task_due") }),
        h("span", { id: "task-due-hint", class: "hint", text: t("task_due_hint") }),
        due,
      ),
      error,
      h("button", { type: "submit", text: t("task_add_button") }),
    );
  }

  async done(taskId) {
    try {
      await api(`/api/tasks/${taskId}/done`, { method: "POST", body: {} });
      this.notices = this.notices.filter((n) => n.message.task_id !== taskId);
      this.renderNotices();
      await this.refresh();
    } catch (err) {
      this.problem = errorText(err);
      this.render();
    }
  }

  // -- what pops ----------------------------------------------------------------------------

  /** A "reminder" or "callback_due" message from the socket. */
  handle(message) {
    const key =
      message.type === "reminder" ? `reminder:${message.task_id}:${message.seq}` : `callback:${message.callback_id}:${message.due_at}`;
    if (this.shown.has(key)) return;
    this.shown.add(key);
    const id = message.type === "reminder" ? message.task_id : message.callback_id;
    // A newer pop of the same task or callback replaces the one up.
    this.notices = this.notices.filter((n) => !(n.message.type === message.type && noticeId(n.message) === id));
    this.notices.push({ message, problem: "" });
    this.renderNotices();
    const text =
      message.type === "reminder"
        ? t("reminder_arrived", { title: message.title })
        : t("callback_due_arrived", { number: digits(message.number_display || message.number) });
    $("announcer").textContent = text;
    ring();
    notify(key, t("app_name"), text, () => $("followup-notices").querySelector("button")?.focus());
    this.refresh();
  }

  renderNotices() {
    this.noticeList.hidden = !this.notices.length;
    this.noticeList.replaceChildren(...this.notices.map((n) => this.notice(n)));
  }

  notice(entry) {
    const m = entry.message;
    const problem = entry.problem ? h("p", { class: "error", role: "alert", text: entry.problem }) : null;
    if (m.type === "reminder") {
      return h(
        "li",
        { class: "followup-notice reminder", "data-task": m.task_id },
        h("strong", { text: t("reminder_title") }),
        " ",
        h("span", { class: "reminder-text", text: m.task_kind === "contract" ? t("task_contract") : m.title }),
        h(
          "p",
          { class: "muted" },
          joined(
            [
              m.due_at ? h("span", {}, `${t("due_at")} `, timeElement(m.due_at)) : null,
              m.customer_name
                ? h("button", { type: "button", class: "link", text: m.customer_name, onclick: () => this.openCustomer(m.customer_id) })
                : null,
              m.tracking_code ? t("task_case", { code: digits(m.tracking_code) }) : null,
            ],
            t("sep"),
          ),
        ),
        m.notes ? h("p", { text: m.notes }) : null,
        h(
          "p",
          { class: "actions" },
          h("button", { type: "button", class: "small", text: t("task_done"), onclick: () => this.done(m.task_id) }),
          h("button", {
            type: "button",
            class: "secondary small",
            text: t("snooze", { n: digits(SNOOZE_MINUTES) }),
            onclick: () => this.snooze(entry),
          }),
          h("button", { type: "button", class: "secondary small", text: t("dismiss"), onclick: () => this.drop(entry) }),
        ),
        problem,
      );
    }
    const display = m.number_display || m.number;
    return h(
      "li",
      { class: "followup-notice callback-due", "data-callback": m.callback_id },
      h("strong", { text: t("callback_due_title") }),
      " ",
      numberText(display),
      m.customer_name ? ` ${m.customer_name}` : null,
      h(
        "p",
        { class: "muted" },
        joined(
          [
            m.source === "queue" ? t("callback_from_queue", { queue: m.queue }) : m.queue ? t("queue", { queue: m.queue }) : null,
            m.tries ? t("callback_tries", { n: digits(m.tries), of: digits(m.max_tries) }) : null,
            m.note || null,
          ],
          t("sep"),
        ),
      ),
      h(
        "div",
        { class: "actions" },
        callButton({
          number: m.number,
          e164: m.e164,
          customer: m.customer_id ? { id: m.customer_id, name: m.customer_name } : null,
          text: t("call_back"),
          callbackId: m.callback_id,
        }),
        this.dismissForm(m.callback_id, display, async () => {
          this.drop(entry);
          await this.refresh();
        }),
        h("button", { type: "button", class: "secondary small", text: t("later"), onclick: () => this.drop(entry) }),
      ),
      problem,
    );
  }

  async snooze(entry) {
    try {
      await api(`/api/tasks/${entry.message.task_id}/snooze`, { method: "POST", body: { minutes: SNOOZE_MINUTES } });
      this.drop(entry);
      $("announcer").textContent = t("snoozed", { n: digits(SNOOZE_MINUTES) });
    } catch (err) {
      entry.problem = errorText(err);
      this.renderNotices();
    }
  }

  drop(entry) {
    this.notices = this.notices.filter((n) => n !== entry);
    this.renderNotices();
    if (!this.notices.length) $("pops-h").focus();
  }
}

function noticeId(message) {
  return message.type === "reminder" ? message.task_id : message.callback_id;
}
