// The live wallboard over /ws/wallboard (screenpop/wallboard.py; the picture's shape is
// app/reports/live.py's): today's counters, callers waiting per queue and for how long,
// the calls up now (who, with whom, since when), and every agent's state. Times count up
// here each second between pictures; every picture (and the first one after a reconnect)
// replaces the whole board, so a reconnect is a resync.

import { api, onTokenRenewed, token } from "./api.js";
import { errorText, numberText } from "./customers.js";
import { h, newId } from "./dom.js";
import { reasonText } from "./availability.js";
import { applyLang, digits, duration, formatCount, t } from "./i18n.js";

const SILENCE_MS = 50_000; // the server pings every 20 s
const MAX_DELAY_MS = 30_000;
const TICK_MS = 1000;
// Colour thresholds (QueueMetrics' defaults): the service level's and the longest wait's.
const SL_GOOD = 80;
const SL_WARN = 60;
const WAIT_WARN_S = 30;
const WAIT_BAD_S = 60;

const slLevel = (pct) => (pct === null || pct === undefined ? null : pct >= SL_GOOD ? "good" : pct >= SL_WARN ? "warn" : "bad");
const waitLevel = (s) => (s >= WAIT_BAD_S ? "bad" : s >= WAIT_WARN_S ? "warn" : "good");

const STATES = ["available", "ringing", "on_call", "paused", "after_call_work", "offline", "no_queue"];

/** A socket that authenticates, reconnects with backoff, and hands over each picture; a
 * refreshed token (api.js) makes it sign in again with the new one. */
class BoardSocket {
  constructor({ onPicture, onState, onRefused }) {
    Object.assign(this, { onPicture, onState, onRefused });
    this.ws = null;
    this.attempt = 0;
    this.stopped = true;
    this.retryTimer = null;
    this.silenceTimer = null;
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.attempt = 0;
    this.unrenew = onTokenRenewed(() => this.renew());
    this.connect();
  }

  renew() {
    if (this.stopped) return;
    const old = this.ws;
    this.ws = null;
    clearTimeout(this.silenceTimer);
    old?.close(1000, "token renewed");
    this.connect();
  }

  stop() {
    this.stopped = true;
    this.unrenew?.();
    this.unrenew = null;
    clearTimeout(this.retryTimer);
    clearTimeout(this.silenceTimer);
    const ws = this.ws;
    this.ws = null;
    ws?.close(1000, "closed");
  }

  connect() {
    const bearer = token();
    if (!bearer) return this.onRefused();
    this.onState(this.attempt ? "reconnecting" : "connecting");
    const url = new URL("/ws/wallboard", location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(url);
    this.ws = ws;
    ws.addEventListener("open", () => {
      ws.send(JSON.stringify({ type: "auth", token: bearer }));
      this.heard(ws);
    });
    ws.addEventListener("message", (event) => {
      if (ws !== this.ws) return;
      this.heard(ws);
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (message.type === "ping") ws.send(JSON.stringify({ type: "pong" }));
      else if (message.type === "board") {
        this.attempt = 0;
        this.onState("connected");
        this.onPicture(message);
      }
    });
    ws.addEventListener("close", (event) => {
      if (ws === this.ws) this.closed(event.code, bearer);
    });
  }

  heard(ws) {
    clearTimeout(this.silenceTimer);
    this.silenceTimer = setTimeout(() => ws.close(4000, "silent"), SILENCE_MS);
  }

  closed(code, bearer) {
    clearTimeout(this.silenceTimer);
    this.ws = null;
    if (this.stopped) return;
    if (code === 4401 && token() && token() !== bearer) {
      this.connect(); // refused the token a refresh has replaced since
      return;
    }
    if (code === 4401 || code === 4403) {
      this.stopped = true;
      this.onRefused();
      return;
    }
    const base = Math.min(MAX_DELAY_MS, 500 * 2 ** this.attempt);
    this.attempt += 1;
    this.onState("reconnecting");
    this.retryTimer = setTimeout(() => this.connect(), base * (0.5 + Math.random() / 2));
  }
}

export class View {
  constructor() {
    this.picture = null;
    this.skew = 0; // the server's clock minus ours, from the picture's time
    this.ticker = null;
    this.spoken = "";
    this.socket = new BoardSocket({
      onPicture: (p) => this.receive(p),
      onState: (s) => this.connection(s),
      onRefused: () => this.connection("refused"),
    });
    const headingId = newId("wall-h");
    this.heading = h("h2", { id: headingId, tabindex: -1, "data-i18n": "wallboard" });
    this.tvButton = h("button", {
      type: "button",
      class: "secondary",
      "aria-pressed": "false",
      "data-i18n": "wall_tv",
      onclick: () => this.toggleTv(),
    });
    this.conn = h("p", { class: "conn", role: "status", "data-state": "connecting" }, h("span", { class: "dot", "aria-hidden": "true" }), h("span", {}));
    this.counters = h("dl", { class: "counters" });
    this.queues = h("div", {});
    this.calls = h("div", {});
    this.agents = h("div", {});
    // The agent a supervisor picked, and what they can do to them (see renderActions).
    this.chosen = null;
    this.actions = h("div", {});
    this.actionNote = h("p", { class: "muted wall-note", role: "status", "aria-live": "polite" });
    // Ends the listen, whisper or barge in progress (hangs up your own phone's channel).
    this.spyStop = h("button", { type: "button", class: "secondary", "data-action": "stop-spy", hidden: true, "data-i18n": "wall_spy_stop" });
    this.spyPoll = null;
    // Said to screen readers when the number waiting changes (not each second).
    this.live = h("p", { class: "visually-hidden", "aria-live": "polite", "aria-atomic": "true" });
    const part = (key, body) => {
      const id = newId("wall");
      return h("section", { class: "pane", "aria-labelledby": id }, h("h3", { id, "data-i18n": key }), body);
    };
    this.el = h(
      "section",
      { class: "view wallboard", "aria-labelledby": headingId },
      h("header", { class: "wall-head" }, this.heading, this.conn, this.tvButton),
      this.counters,
      h(
        "div",
        { class: "wall-grid" },
        part("wall_waiting", this.queues),
        part("wall_calls", this.calls),
        part("wall_agents", this.agents),
        part("wall_actions", h("div", {}, this.actions, this.actionNote, this.spyStop)),
      ),
      this.live,
    );
    applyLang(this.el);
    document.addEventListener("langchange", () => {
      applyLang(this.el);
      this.connection(this.conn.dataset.state);
      this.render();
    });
  }

  /** TV mode: the board alone on the whole screen (full screen where the browser allows). */
  toggleTv(on = !this.el.classList.contains("tv")) {
    this.el.classList.toggle("tv", on);
    this.tvButton.setAttribute("aria-pressed", String(on));
    if (on) document.documentElement.requestFullscreen?.().catch(() => {});
    else if (document.fullscreenElement) document.exitFullscreen?.().catch(() => {});
  }

  show() {
    this.socket.start();
    this.ticker = setInterval(() => this.tick(), TICK_MS);
  }

  hide() {
    if (this.el.classList.contains("tv")) this.toggleTv(false);
    clearTimeout(this.spyPoll);
    this.socket.stop();
    clearInterval(this.ticker);
    this.ticker = null;
  }

  destroy() {
    this.hide();
  }

  connection(state) {
    this.conn.dataset.state = state;
    this.conn.lastElementChild.textContent = t(state === "refused" ? "wall_refused" : `conn_${state}`);
  }

  receive(picture) {
    this.picture = picture;
    this.skew = new Date(picture.at) - Date.now();
    this.render();
    const waiting = picture.queues.reduce((n, q) => n + q.waiting.length, 0);
    const said = t("wall_said", { n: formatCount(waiting), calls: formatCount(picture.calls.length) });
    if (said !== this.spoken) this.live.textContent = this.spoken = said;
  }

  /** Seconds since `iso` by the server's clock. */
  since(iso) {
    return (Date.now() + this.skew - new Date(iso)) / 1000;
  }

  /** Every running time moves on by itself between pictures. */
  tick() {
    for (const el of this.el.querySelectorAll("[data-since]")) {
      el.textContent = duration(this.since(el.dataset.since));
    }
  }

  clock(iso) {
    return h("span", { class: "clock", dir: "ltr", "data-since": iso, text: duration(this.since(iso)) });
  }

  render() {
    const p = this.picture;
    if (!p) return;
    this.renderCounters(p.today_total, p.csat_today);
    this.renderActions();
    this.queues.replaceChildren(this.renderQueues(p));
    this.calls.replaceChildren(
      p.calls.length
        ? table(
            ["number_col", "agent", "wall_state", "wall_since"],
            p.calls.map((c) => [
              [c.number ? numberText(c.number_display || c.number) : "—", c.caller_name ? [" ", h("bdi", { class: "muted", text: c.caller_name })] : null],
              c.agent ? h("bdi", { text: c.agent }) : c.queue ? t("queue", { queue: c.queue }) : "—",
              t(`wall_call_${c.state}`),
              this.clock(c.answered_at ?? c.started_at),
            ]),
          )
        : h("p", { class: "muted", text: t("wall_no_calls") }),
    );
    this.agents.replaceChildren(
      h(
        "ul",
        { class: "wall-agents" },
        p.agents.map((a) =>
          h(
            "li",
            { "data-state": STATES.includes(a.state) ? a.state : "offline", "data-agent": a.user_id },
            h("span", { class: "dot", "aria-hidden": "true" }),
            h(
              "button",
              {
                type: "button",
                class: "link agent-name",
                "aria-pressed": String(this.chosen === a.user_id),
                onclick: () => this.choose(a.user_id),
              },
              h("bdi", { text: a.name }),
            ),
            " ",
            h("span", { class: "agent-state", text: agentState(a) }),
            " ",
            h(
              "span",
              { class: "agent-figures muted" },
              a.since ? [this.clock(a.since), t("sep")] : null,
              t("wall_handled", { n: formatCount(a.handled_today ?? 0) }),
              a.csat_today_pct === null || a.csat_today_pct === undefined
                ? null
                : [t("sep"), h("span", { "data-figure": "csat", text: t("wall_agent_csat", { v: t("pct", { n: formatCount(a.csat_today_pct) }) }) })],
            ),
          ),
        ),
      ),
    );
  }

  /** Each queue: who waits and for how long, and its figures of the day, coloured. */
  renderQueues(p) {
    const waiting = new Map(p.queues.map((q) => [q.queue, q]));
    const figures = new Map(p.today.filter((r) => r.key).map((r) => [r.key, r]));
    const names = [...new Set([...waiting.keys(), ...figures.keys()])].sort();
    const nobody = p.queues.every((q) => !q.waiting.length)
      ? h("p", { class: "muted", text: t("wall_nobody_waiting") })
      : null;
    if (!names.length) return nobody;
    return h(
      "div",
      {},
      nobody,
      h(
      "ul",
      { class: "wall-queues" },
      names.map((name) => {
        const q = waiting.get(name) ?? { waiting: [], longest_wait_seconds: 0 };
        const r = figures.get(name);
        const longest = q.waiting.length ? Math.max(...q.waiting.map((w) => this.since(w.since))) : 0;
        const sl = r?.service_level_pct ?? null;
        return h(
          "li",
          { "data-queue": name },
          h("strong", { dir: "auto", text: name }),
          " ",
          h("span", { class: "badge", text: t("wall_waiting_n", { n: digits(q.waiting.length) }) }),
          h(
            "p",
            { class: "wall-queue-figures" },
            h("span", { "data-figure": "sl", "data-level": slLevel(sl), text: t("wall_q_sl", { v: sl === null ? "—" : t("pct", { n: formatCount(sl) }) }) }),
            h("span", { "data-figure": "asa", text: t("wall_q_asa", { v: r?.asa_seconds === null || r?.asa_seconds === undefined ? "—" : duration(r.asa_seconds) }) }),
            h("span", { "data-figure": "longest", "data-level": q.waiting.length ? waitLevel(longest) : null, text: t("wall_q_longest", { v: q.waiting.length ? duration(longest) : "—" }) }),
            h("span", { "data-figure": "answered", text: t("wall_q_answered", { n: formatCount(r?.answered ?? 0), of: formatCount(r?.offered ?? 0) }) }),
            p.csat_today?.by_queue?.[name] === undefined
              ? null
              : h("span", { "data-figure": "csat", text: t("wall_q_csat", { v: t("pct", { n: formatCount(p.csat_today.by_queue[name]) }) }) }),
          ),
          h(
            "ol",
            {},
            q.waiting.map((w) => h("li", {}, w.number ? numberText(w.number_display || w.number) : t("unknown_number"), " ", this.clock(w.since))),
          ),
        );
      }),
      ),
    );
  }

  choose(userId) {
    this.chosen = this.chosen === userId ? null : userId;
    this.actionNote.textContent = "";
    this.render();
  }

  /** Listen, whisper, barge, pause with a reason, unpause, queue log-in/out for the agent
   * picked. Rebuilt only when the agent or their state changes (a picture comes several
   * times a second: a reason being chosen must not be reset). */
  renderActions() {
    const p = this.picture;
    const agent = p?.agents.find((a) => a.user_id === this.chosen);
    const key = agent ? JSON.stringify([agent.user_id, agent.state, agent.login_queues, currentKey()]) : "";
    if (key === this.actionsKey) return;
    this.actionsKey = key;
    if (!agent) {
      this.actions.replaceChildren(h("p", { class: "muted", text: t("wall_pick_agent") }));
      return;
    }
    const onCall = agent.state === "on_call";
    const reasons = h(
      "select",
      { "aria-label": t("wall_pause_reason"), class: "wall-reason" },
      (p.pause_reasons ?? []).map((r) => h("option", { value: r, text: reasonText(r) })),
    );
    const button = (key, onclick, disabled = false) =>
      h("button", { type: "button", "data-action": key, disabled, onclick, text: t(`wall_do_${key}`) });
    this.actions.replaceChildren(
      h("h4", {}, h("bdi", { text: agent.name }), " — ", agentState(agent)),
      h(
        "div",
        { class: "wall-buttons", role: "group", "aria-label": t("wall_spy_group") },
        ["listen", "whisper", "barge"].map((mode) => button(mode, () => this.spy(agent, mode), !onCall)),
      ),
      onCall ? null : h("p", { class: "muted", text: t("wall_spy_needs_call") }),
      h(
        "div",
        { class: "wall-buttons", role: "group", "aria-label": t("wall_pause_group") },
        reasons,
        button("pause", () => this.act(`/api/supervision/agents/${agent.user_id}/pause`, { reason: reasons.value })),
        button("unpause", () => this.act(`/api/supervision/agents/${agent.user_id}/unpause`)),
      ),
      (agent.login_queues ?? []).map((q) =>
        h(
          "div",
          { class: "wall-buttons" },
          q.logged_in
            ? button("logout", () => this.act(queuePath(agent, q, "logout")), !q.can_log_out)
            : button("login", () => this.act(queuePath(agent, q, "login"))),
          " ",
          h("bdi", { text: q.queue }),
        ),
      ),
    );
  }

  async act(path, body) {
    this.actionNote.textContent = t("wall_sending");
    try {
      await api(path, { method: "POST", body });
      this.actionNote.textContent = t("wall_requested");
    } catch (err) {
      this.actionNote.textContent = errorText(err);
    }
  }

  async spy(agent, mode) {
    clearTimeout(this.spyPoll);
    this.spyStop.hidden = true;
    this.actionNote.textContent = t("wall_sending");
    let session;
    try {
      session = await api("/api/supervision/spy", { method: "POST", body: { agent_id: agent.user_id, mode } });
    } catch (err) {
      this.actionNote.textContent = errorText(err);
      return;
    }
    this.spyStop.onclick = async () => {
      this.spyStop.disabled = true;
      try {
        session = await api(`/api/supervision/spy/${session.id}/stop`, { method: "POST" });
        this.actionNote.textContent = t("wall_spy_stopping");
      } catch (err) {
        this.actionNote.textContent = errorText(err);
      } finally {
        this.spyStop.disabled = false;
      }
    };
    const follow = async (tries) => {
      const stopping = this.actionNote.textContent === t("wall_spy_stopping") && session.state === "active";
      if (!stopping) this.actionNote.textContent = spyText(session);
      this.spyStop.hidden = session.state !== "active";
      if (session.state === "ended" || session.state === "failed" || tries <= 0) return;
      this.spyPoll = setTimeout(async () => {
        try {
          session = await api(`/api/supervision/spy/${session.id}`);
        } catch {
          return;
        }
        follow(tries - 1);
      }, 1000);
    };
    follow(3600);
  }

  /** The day's figures, as the server counts them (app/reports/definitions.py). */
  renderCounters(total, csat) {
    const sl = total?.service_level_pct ?? null;
    const csatPct = csat?.csat_pct ?? null;
    const items = [
      ["wall_offered", formatCount(total?.offered ?? 0)],
      ["wall_answered", formatCount(total?.answered ?? 0)],
      ["wall_abandoned", formatCount(total?.abandoned ?? 0)],
      ["wall_missed", formatCount(total?.missed ?? 0)],
      ["wall_sl", sl === null ? "—" : t("pct", { n: formatCount(Math.round(sl)) }), slLevel(sl)],
      ["wall_asa", total?.asa_seconds === null || total?.asa_seconds === undefined ? "—" : duration(total.asa_seconds)],
      [
        "wall_csat",
        csatPct === null ? "—" : t("pct", { n: formatCount(csatPct) }),
        null,
        t("wall_csat_title", { n: formatCount(csat?.answers ?? 0), s: formatCount(csat?.satisfied ?? 0) }),
      ],
    ];
    this.counters.replaceChildren(
      ...items.map(([key, value, level, title]) =>
        h(
          "div",
          { class: "counter", "data-counter": key, "data-level": level ?? null, title: title ?? null },
          h("dt", { text: t(key) }),
          h("dd", { text: value }),
        ),
      ),
    );
  }

}

const currentKey = () => document.documentElement.lang;

function queuePath(agent, q, what) {
  const pbx = encodeURIComponent(q.pbx);
  return `/api/supervision/agents/${agent.user_id}/queues/${encodeURIComponent(q.queue)}/${what}?pbx=${pbx}`;
}

function spyText(session) {
  if (session.state === "failed") return t("wall_spy_failed", { why: session.failure_text || session.failure });
  return t(`wall_spy_${session.state}`, { mode: t(`wall_do_${session.mode}`) });
}

function agentState(a) {
  if (a.state === "paused" && a.reason) return t("avail_paused_reason", { reason: reasonText(a.reason) });
  return t(`wall_agent_${a.state}`);
}

function table(columns, rows) {
  return h(
    "table",
    { class: "calls-table" },
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", text: t(c) })))),
    h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((cell) => h("td", {}, cell))))),
  );
}
