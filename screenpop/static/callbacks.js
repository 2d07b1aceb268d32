// Callbacks: customers who called and did not get through, waiting for a call back (number
// and customer, first and last attempt, how many, which queue). An agent claims one, then
// calls back from it (click-to-call); the ones claimed by this agent are listed apart. The
// PBX settles a callback once a call to the number is answered.
//
// No message says a callback came or went: the lists are asked for when the tab is shown,
// after a call of this agent's ends, and every half minute.

import { ApiError, api, currentUser } from "./api.js";
import { errorText, numberText } from "./customers.js";
import { callButton, readableNumber } from "./dialling.js";
import { $, debounce, h, joined } from "./dom.js";
import "./i18n_followups.js";
import { digits, t, timeElement } from "./i18n.js";

const POLL_MS = 30_000;
const NAMES_MS = 5 * 60_000; // how long who holds a number is remembered

export class Callbacks {
  /** `onCount(n)` with the number waiting; `openCustomer(id)` shows a caller's card. */
  constructor({ onCount, openCustomer }) {
    this.mineList = $("callbacks-mine");
    this.openList = $("callbacks-open");
    this.status = $("callbacks-status");
    this.onCount = onCount;
    this.openCustomer = openCustomer;
    this.open = [];
    this.mine = [];
    this.problem = "";
    this.timer = null;
    this.request = null;
    this.names = new Map(); // e164 -> {at, customers}
    this.soon = debounce(() => this.refresh(), 300);
    this.picked = new Set(); // supervisors: the open callbacks ticked for a bulk action
    this.bulk = $("callbacks-bulk");
    document.addEventListener("langchange", () => this.render());
  }

  start() {
    this.stop();
    this.refresh();
    this.timer = setInterval(() => this.refresh(), POLL_MS);
  }

  stop() {
    clearInterval(this.timer);
    this.soon.cancel();
    this.request?.abort();
    Object.assign(this, { open: [], mine: [], problem: "", timer: null, request: null });
    this.picked.clear();
    this.bulk.replaceChildren();
    this.names.clear();
    this.render();
  }

  async refresh() {
    this.request?.abort();
    const request = new AbortController();
    this.request = request;
    const { signal } = request;
    try {
      const [open, mine] = await Promise.all([
        api("/api/callbacks?status=open", { signal }),
        api("/api/callbacks?status=claimed&mine=true", { signal }),
      ]);
      await this.lookUp([...open, ...mine], signal);
      Object.assign(this, { open, mine, problem: "" });
    } catch (err) {
      if (err.name === "AbortError") return;
      this.problem = errorText(err);
    }
    this.render();
  }

  /** Who holds each callback's number (the API gives the number only). */
  async lookUp(callbacks, signal) {
    const now = Date.now();
    const wanted = new Set(
      callbacks
        .map((c) => c.e164)
        .filter((e164) => e164 && !(now - (this.names.get(e164)?.at ?? 0) < NAMES_MS)),
    );
    await Promise.all(
      [...wanted].map(async (e164) => {
        const found = await api(`/api/customers/lookup?number=${encodeURIComponent(e164)}`, {
          signal,
        });
        this.names.set(e164, { at: now, customers: found.customers });
      }),
    );
  }

  render() {
    // The lists are redrawn under the agent's hands: the control they were on keeps the
    // keyboard (or its row's, when the callback moved to the other list).
    const focus = document.activeElement?.dataset?.focus;
    this.onCount(this.open.length);
    this.mineList.replaceChildren(
      ...(this.mine.length
        ? this.mine.map((c) => this.item(c, true))
        : [h("li", { class: "muted", text: t("callbacks_mine_none") })]),
    );
    this.renderBulk();
    this.openList.replaceChildren(
      ...(this.open.length
        ? this.open.map((c) => this.item(c, false))
        : [h("li", { class: "muted", text: t("callbacks_none") })]),
    );
    const waiting = this.open.length ? t("callbacks_count", { n: digits(this.open.length) }) : "";
    const text = this.problem || waiting;
    if (this.status.textContent !== text) this.status.textContent = text;
    if (focus) {
      const id = focus.split(":")[0];
      const again =
        document.querySelector(`[data-focus="${focus}"]`) ??
        document.querySelector(`[data-focus^="${id}:"]`);
      again?.focus();
    }
  }

  supervisor() {
    return ["supervisor", "admin"].includes(currentUser()?.role);
  }

  /** Supervisors: mark the ticked callbacks seen, or dismiss them with one reason. */
  renderBulk() {
    const on = this.supervisor() && this.open.length > 0;
    this.bulk.hidden = !on;
    if (!on) return;
    const open = new Set(this.open.map((c) => c.id));
    for (const id of [...this.picked]) if (!open.has(id)) this.picked.delete(id);
    if (this.bulk.childElementCount) {
      this.bulk.querySelector(".bulk-picked").textContent = t("bulk_picked", { n: digits(this.picked.size) });
      return;
    }
    const reason = h("input", { id: "bulk-reason", maxlength: "500" });
    const error = h("p", { class: "form-error", role: "alert" });
    const send = async (action) => {
      error.textContent = "";
      if (!this.picked.size) {
        error.textContent = t("bulk_none_picked");
        return;
      }
      if (action === "dismiss" && !reason.value.trim()) {
        error.textContent = t("dismiss_reason_needed");
        reason.focus();
        return;
      }
      try {
        const done = await api("/api/callbacks/bulk", {
          method: "POST",
          body: { ids: [...this.picked], action, reason: reason.value.trim() },
        });
        this.picked.clear();
        reason.value = "";
        await this.refresh();
        this.status.textContent = t(action === "seen" ? "bulk_seen_done" : "bulk_dismissed", { n: digits(done.changed) });
      } catch (err) {
        error.textContent = errorText(err);
      }
    };
    this.bulk.replaceChildren(
      h("span", { class: "bulk-picked muted", text: t("bulk_picked", { n: digits(this.picked.size) }) }),
      h("button", { type: "button", class: "secondary small", text: t("bulk_seen"), onclick: () => send("seen") }),
      h("label", { for: "bulk-reason", text: t("dismiss_reason") }),
      reason,
      h("button", { type: "button", class: "secondary small", text: t("bulk_dismiss"), onclick: () => send("dismiss") }),
      error,
    );
    this.bulk.onsubmit = (event) => event.preventDefault();
  }

  item(callback, mine) {
    const display = readableNumber(callback.number, callback.e164);
    const customers = this.names.get(callback.e164)?.customers ?? [];
    const pick =
      !mine && this.supervisor()
        ? h("input", {
            type: "checkbox",
            class: "bulk-pick",
            checked: this.picked.has(callback.id),
            "aria-label": t("bulk_pick_label", { number: digits(display) }),
            onchange: (event) => {
              if (event.target.checked) this.picked.add(callback.id);
              else this.picked.delete(callback.id);
              this.renderBulk();
            },
          })
        : null;
    return h(
      "li",
      { class: `callback${callback.seen_at ? " seen" : ""}` },
      pick,
      h(
        "p",
        { class: "callback-who" },
        numberText(display),
        customers.map((c) => [
          " ",
          h("button", {
            type: "button",
            class: "link",
            text: c.name,
            onclick: () => this.openCustomer(c.id),
          }),
        ]),
      ),
      h(
        "p",
        { class: "muted" },
        joined(
          [
            callback.attempts > 1
              ? t("callback_attempts", { n: digits(callback.attempts) })
              : null,
            h("span", {}, `${t("callback_first")} `, timeElement(callback.first_call_at)),
            callback.attempts > 1
              ? h("span", {}, `${t("callback_last")} `, timeElement(callback.last_call_at))
              : null,
            callback.queue ? t("queue", { queue: callback.queue }) : null,
            // Scheduled (or rescheduled by a try): when it is due.
            new Date(callback.due_at) > new Date()
              ? h("span", {}, `${t("due_at")} `, timeElement(callback.due_at))
              : null,
            callback.tries ? t("callback_tries", { n: digits(callback.tries), of: digits(callback.max_tries) }) : null,
            callback.note || null,
          ],
          t("sep"),
        ),
      ),
      h(
        "p",
        { class: "actions" },
        mine ? this.callBack(callback, customers) : null,
        h("button", {
          type: "button",
          class: mine ? "secondary" : null,
          "data-focus": `${callback.id}:${mine ? "release" : "claim"}`,
          text: t(mine ? "release" : "claim"),
          "aria-label": t(mine ? "release_label" : "claim_label", { number: digits(display) }),
          onclick: () => this.claim(callback, !mine),
        }),
      ),
    );
  }

  callBack(callback, customers) {
    const button = callButton({
      number: callback.number,
      e164: callback.e164,
      // A line several customers share: the call is to the line, not one of them.
      customer: customers.length === 1 ? customers[0] : null,
      text: t("call_back"),
      callbackId: callback.id,
    });
    button.dataset.focus = `${callback.id}:call`;
    return button;
  }

  async claim(callback, take) {
    const display = digits(readableNumber(callback.number, callback.e164));
    try {
      await api(`/api/callbacks/${callback.id}/${take ? "claim" : "release"}`, { method: "POST" });
      await this.refresh();
      if (take) {
        this.status.textContent = t("callback_claimed", { number: display });
        // Claimed: straight on to calling back.
        document.querySelector(`[data-focus="${callback.id}:call"]`)?.focus();
      }
    } catch (err) {
      const problem =
        err instanceof ApiError && err.status === 409 ? t("callback_taken") : errorText(err);
      await this.refresh(); // the lists as they are now (a colleague was quicker)
      this.status.textContent = problem;
    }
  }
}
