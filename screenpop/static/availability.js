// The agent's availability in the header: what the PBX says they are (available, paused and
// why, after-call work with its countdown, ringing, on a call, offline, in no queue), a menu
// of the configured pause reasons, "ready", and logging in to and out of the queues agents
// join themselves. What is shown is always the PBX's word: a request changes nothing here
// until the PBX reports the change (an `agent` message), just as a pause made from the phone.

import { api, currentUser } from "./api.js";
import { errorText } from "./customers.js";
import { $, h } from "./dom.js";
import { currentLang, duration, t, tMaybe } from "./i18n.js";

const WAIT_MS = 15_000; // how long "waiting for the PBX" is shown after a request

/** A pause reason in the panel's language (configured ones it does not know as they are). */
export const reasonText = (reason) => tMaybe(`reason_${reason}`) ?? reason;

export class Availability {
  constructor() {
    this.root = $("availability");
    this.text = $("avail-text");
    this.left = $("avail-left");
    this.note = $("avail-note");
    this.by = $("avail-by");
    this.error = $("avail-error");
    this.readyButton = $("avail-ready");
    this.pauseButton = $("avail-pause");
    this.menu = $("avail-reasons");
    this.queues = $("avail-queues");
    this.status = null;
    this.line = null; // the agent's cards say they are "on_call" or "ringing"
    this.busy = false;
    this.waiting = null; // what the PBX has yet to confirm: (status) => boolean
    this.waitTimer = null;
    this.ticker = null;

    this.readyButton.addEventListener("click", () =>
      this.request("/api/agent/unpause", undefined, (s) => !s.paused && !s.partly_paused),
    );
    this.pauseButton.addEventListener("click", () => {
      if (this.menu.hidden) this.openMenu();
      else this.closeMenu();
    });
    this.menu.addEventListener("keydown", (event) => this.menuKeys(event));
    this.pauseButton.parentElement.addEventListener("focusout", (event) => {
      if (!this.pauseButton.parentElement.contains(event.relatedTarget)) this.closeMenu(false);
    });
    document.addEventListener("pointerdown", (event) => {
      if (!this.pauseButton.parentElement.contains(event.target)) this.closeMenu(false);
    });
    document.addEventListener("langchange", () => this.render());
  }

  /** A supervisor paused, unpaused or moved this agent (a `supervised` message): who. */
  supervised(message) {
    const key = `by_${message.action}`;
    const reason = message.reason ? reasonText(message.reason) : "";
    this.by.textContent = t(key, { name: message.by?.name ?? "", reason, queue: message.queue ?? "" });
  }

  /** The status as the PBX reports it (the hello's, then each `agent` message's). */
  show(status) {
    if (!status) return;
    this.status = status;
    if (this.waiting?.(status)) this.stopWaiting();
    this.render();
  }

  /**
   * The agent's own cards say they are on a call or being rung: shown so even when the
   * PBX's queue-member status has not said it (a direct call, a click-to-call).
   */
  showLine(line) {
    if (this.line === line) return;
    this.line = line;
    this.render();
  }

  clear() {
    this.status = null;
    this.line = null;
    this.stopWaiting();
    this.closeMenu(false);
    this.error.textContent = "";
    this.text.textContent = "";
    this.by.textContent = "";
    this.render();
  }

  render() {
    const s = this.status;
    clearInterval(this.ticker);
    this.ticker = null;
    // Someone with no phone (a supervisor) takes no calls: nothing to say about it.
    const phoneless = !currentUser()?.devices?.length && !this.line;
    this.root.hidden = !s || (phoneless && s.state === "no_queue");
    if (this.root.hidden) return;
    const lineBusy = this.line && !["ringing", "on_call"].includes(s.state);
    this.root.dataset.state = lineBusy ? this.line : s.state;
    const text = lineBusy ? t(`avail_${this.line}`) : stateText(s);
    // Only a change is written: the text is a live region and is read out when it changes.
    if (this.text.textContent !== text) this.text.textContent = text;
    this.countdown();
    if (s.state === "after_call_work" && s.wrapup_until) {
      this.ticker = setInterval(() => this.countdown(), 1000);
    }
    this.readyButton.hidden = !(s.paused || s.partly_paused || s.state === "after_call_work");
    this.pauseButton.hidden = !s.queues?.length;
    if (this.pauseButton.hidden) this.closeMenu(false);
    this.menu.setAttribute("aria-label", t("pause_reasons"));
    this.menu.replaceChildren(
      ...(s.pause_reasons ?? []).map((reason) =>
        h(
          "li",
          {},
          h("button", {
            type: "button",
            class: "menu-item",
            "aria-pressed": String(Boolean(s.paused && s.reason === reason)),
            text: reasonText(reason),
            onclick: () => this.pause(reason),
          }),
        ),
      ),
    );
    // A member written in the PBX's configuration (static) cannot log out: no button.
    const fixed = new Set(
      (s.queues ?? []).filter((m) => m.membership === "static").map((m) => `${m.pbx}|${m.queue}`),
    );
    this.queues.replaceChildren(
      ...(s.login_queues ?? [])
        .filter((q) => !(q.logged_in && fixed.has(`${q.pbx}|${q.queue}`)))
        .map((q) =>
        h("button", {
          type: "button",
          class: "secondary",
          text: t(q.logged_in ? "queue_logout" : "queue_login", { queue: q.queue }),
          onclick: () => this.queue(q),
        }),
      ),
    );
    this.note.textContent = this.waiting ? t("avail_waiting") : "";
    this.markBusy();
  }

  countdown() {
    const s = this.status;
    const until = s?.state === "after_call_work" ? Date.parse(s.wrapup_until ?? "") : NaN;
    if (Number.isNaN(until)) {
      this.left.textContent = "";
      return;
    }
    const left = Math.max(0, Math.ceil((until - Date.now()) / 1000));
    this.left.textContent = t("avail_left", { left: duration(left) });
  }

  pause(reason) {
    this.closeMenu();
    this.request("/api/agent/pause", { reason }, (s) => s.paused && s.reason === reason);
  }

  queue(q) {
    const action = q.logged_in ? "logout" : "login";
    const done = (s) =>
      (s.login_queues ?? []).some((l) => l.queue === q.queue && l.logged_in !== q.logged_in);
    const params = q.pbx ? `?${new URLSearchParams({ pbx: q.pbx })}` : "";
    const path = `/api/agent/queues/${encodeURIComponent(q.queue)}/${action}${params}`;
    this.request(path, undefined, done);
  }

  /** Ask the PBX (through Tamas) for a change; shown once the PBX reports it. */
  async request(path, body, confirmed) {
    if (this.busy) return;
    this.busy = true;
    this.error.textContent = "";
    this.markBusy();
    try {
      await api(path, { method: "POST", body });
      if (!this.status || !confirmed(this.status)) this.wait(confirmed);
    } catch (err) {
      this.error.textContent = errorText(err);
    } finally {
      this.busy = false;
      this.markBusy();
    }
  }

  wait(confirmed) {
    this.stopWaiting();
    this.waiting = confirmed;
    this.note.textContent = t("avail_waiting");
    this.waitTimer = setTimeout(() => this.stopWaiting(), WAIT_MS);
  }

  stopWaiting() {
    clearTimeout(this.waitTimer);
    this.waiting = null;
    this.note.textContent = "";
  }

  // aria-disabled, not disabled: the button just pressed keeps the keyboard focus.
  markBusy() {
    for (const button of this.root.querySelectorAll("button")) {
      if (this.busy) button.setAttribute("aria-disabled", "true");
      else button.removeAttribute("aria-disabled");
    }
  }

  openMenu() {
    if (this.busy) return;
    this.menu.hidden = false;
    this.pauseButton.setAttribute("aria-expanded", "true");
    const items = this.items();
    (items.find((b) => b.getAttribute("aria-pressed") === "true") ?? items[0])?.focus();
  }

  closeMenu(refocus = true) {
    if (this.menu.hidden) return;
    const inside = this.menu.contains(document.activeElement);
    this.menu.hidden = true;
    this.pauseButton.setAttribute("aria-expanded", "false");
    if (refocus && inside) this.pauseButton.focus();
  }

  items() {
    return [...this.menu.querySelectorAll("button")];
  }

  menuKeys(event) {
    const items = this.items();
    const at = items.indexOf(document.activeElement);
    let next = null;
    if (event.key === "ArrowDown") next = (at + 1) % items.length;
    else if (event.key === "ArrowUp") next = (at - 1 + items.length) % items.length;
    else if (event.key === "Home") next = 0;
    else if (event.key === "End") next = items.length - 1;
    else if (event.key === "Escape") {
      event.preventDefault();
      this.closeMenu();
      return;
    } else return;
    event.preventDefault();
    items[next]?.focus();
  }
}

function stateText(s) {
  switch (s.state) {
    case "available":
      return s.partly_paused ? t("avail_partly_paused") : t("avail_available");
    case "paused":
      return s.reason ? t("avail_paused_reason", { reason: reasonText(s.reason) }) : t("avail_paused");
    case "after_call_work":
      return t("avail_after_call_work", { time: clock(s.wrapup_until) });
    default:
      return tMaybe(`avail_${s.state}`) ?? s.state;
  }
}

/** HH:MM:SS in the panel's digits. */
function clock(iso) {
  const when = new Date(iso ?? "");
  if (Number.isNaN(when.getTime())) return "";
  const locale = currentLang() === "fa" ? "fa-IR" : "en-GB";
  const options = { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" };
  return new Intl.DateTimeFormat(locale, options).format(when);
}
