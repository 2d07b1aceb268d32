// How agents spent their time, over GET /api/supervision/activity (the figures of every
// agent and the team over a period, as a table, and as CSV) and
// GET /api/supervision/activity/timeline (one agent's day as a bar of states, each state a
// coloured stretch placed by its start and length, and above it a thinner bar of their
// sign-ins to Tamas; the same intervals listed as tables for screen readers). Agents get
// their own figures and day (the API sees to it).

import { centerToday } from "./days.js";
import { api } from "./api.js";
import { reasonText } from "./availability.js";
import { errorText, field } from "./customers.js";
import { h, newId, showFormErrors } from "./dom.js";
import { download, query } from "./download.js";
import { fieldsOf } from "./history.js";
import { applyLang, currentLang, digits, duration, formatCount, t } from "./i18n.js";

const COLUMNS = [
  "signed_in_seconds",
  "logged_in_seconds",
  "talking_seconds",
  "ringing_seconds",
  "wrapup_seconds",
  "pause_seconds",
  "idle_seconds",
  "unavailable_seconds",
  "occupancy_pct",
  "utilisation_pct",
  "calls_handled",
  "calls_per_hour",
  "missed_rings",
];
const STATES = ["idle", "ringing", "talking", "wrapup", "pause", "unavailable"];

function today() {
  const now = centerToday(); // the call center's day, not the browser's
  if (currentLang() === "fa") {
    const parts = new Intl.DateTimeFormat("en-u-ca-persian-nu-latn", { year: "numeric", month: "2-digit", day: "2-digit" }).formatToParts(now);
    const part = (type) => parts.find((p) => p.type === type).value;
    return `${part("year")}-${part("month")}-${part("day")}`;
  }
  return new Date(now.getTime() - now.getTimezoneOffset() * 60_000).toISOString().slice(0, 10);
}

function cell(column, value) {
  if (value === null || value === undefined) return "—";
  if (column.endsWith("_seconds")) return duration(value);
  if (column.endsWith("_pct")) return t("pct", { n: formatCount(value) });
  return formatCount(value);
}

function clock(iso) {
  const locale = currentLang() === "fa" ? "fa-IR" : "en-GB";
  return new Intl.DateTimeFormat(locale, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(new Date(iso));
}

const stateText = (i) => (i.state === "pause" && i.reason ? `${t("act_pause")}: ${reasonText(i.reason)}` : t(`act_${i.state}`));

export class View {
  constructor({ supervisor, user }) {
    this.supervisor = supervisor;
    this.user = user;
    this.result = null;
    this.day = null;
    const headingId = newId("act-h");
    this.heading = h("h2", { id: headingId, tabindex: -1, "data-i18n": "activity_title" });
    const input = (name, value) => h("input", { name, "data-field": name, autocomplete: "off", dir: "ltr", maxlength: 40, value });
    this.agentSelect = h("select", { name: "agent", "data-field": "agent" }, h("option", { value: "", "data-i18n": "any" }));
    this.form = h(
      "form",
      { class: "filters pane", novalidate: true, onsubmit: (e) => (e.preventDefault(), this.load()) },
      h(
        "div",
        { class: "filter-grid" },
        field("from_day", input("from", today()), "day_hint"),
        field("to_day", input("to", today()), "day_hint"),
        this.supervisor ? field("agent", this.agentSelect) : null,
      ),
      h("p", { class: "form-error", role: "alert" }),
      h(
        "p",
        { class: "actions" },
        h("button", { type: "submit", "data-i18n": "show_report" }),
        h("button", { type: "button", class: "secondary", "data-i18n": "export_csv", onclick: () => this.export() }),
        h("span", { class: "export-status muted", role: "status" }),
      ),
    );
    this.status = h("p", { class: "muted", role: "status" });
    this.table = h("div", { class: "activity-table" });
    this.dayAgent = h("select", { name: "agent", "aria-label": t("agent") });
    this.dayInput = input("day", today());
    this.dayForm = h(
      "form",
      { class: "filters", novalidate: true, onsubmit: (e) => (e.preventDefault(), this.loadDay()) },
      h(
        "div",
        { class: "filter-grid" },
        field("activity_day", this.dayInput, "day_hint"),
        this.supervisor ? field("agent", this.dayAgent) : null,
      ),
      h("p", { class: "form-error", role: "alert" }),
      h("p", { class: "actions" }, h("button", { type: "submit", "data-i18n": "activity_show_day" })),
    );
    this.timeline = h("div", { class: "timeline-box" });
    const dayId = newId("act-day");
    this.el = h(
      "section",
      { class: "view activity-view", "aria-labelledby": headingId },
      this.heading,
      h("p", { class: "hint", "data-i18n": supervisor ? "activity_intro_supervisor" : "activity_intro_agent" }),
      this.form,
      h("div", { class: "pane" }, this.status, this.table),
      h(
        "section",
        { class: "pane", "aria-labelledby": dayId },
        h("h3", { id: dayId, "data-i18n": "activity_timeline" }),
        this.dayForm,
        this.timeline,
      ),
    );
    applyLang(this.el);
    document.addEventListener("langchange", () => {
      applyLang(this.el);
      this.render();
      this.renderDay();
    });
  }

  async show() {
    if (this.result) return;
    if (this.supervisor) {
      try {
        const users = (await api("/api/users")).filter((u) => u.devices.length);
        const options = () => users.map((u) => h("option", { value: u.id, text: u.full_name || u.username }));
        this.agentSelect.append(...options());
        this.dayAgent.append(...options());
      } catch {
        // The team's figures still come.
      }
    }
    await this.load();
    await this.loadDay();
  }

  hide() {}

  destroy() {}

  params(overrides = {}) {
    return query({ ...Object.fromEntries(new FormData(this.form).entries()), ...overrides });
  }

  async load() {
    this.status.textContent = t("loading");
    try {
      this.result = await api(`/api/supervision/activity?${this.params()}`);
      showFormErrors(this.form, null);
      this.render();
    } catch (err) {
      showFormErrors(this.form, fieldsOf(err), errorText(err));
      this.status.textContent = errorText(err);
    }
  }

  render() {
    const r = this.result;
    if (!r) return;
    this.status.textContent = r.agents.length ? t("report_rows", { n: formatCount(r.agents.length) }) : t("activity_empty");
    if (!r.agents.length) return this.table.replaceChildren();
    const rows = r.agents.map((a) => [h("bdi", { text: a.name }), a]);
    if (r.agents.length > 1) rows.push([h("strong", { text: t("activity_team") }), r.team]);
    this.table.replaceChildren(
      h(
        "table",
        { class: "calls-table activity" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col", text: t("agent") }), COLUMNS.map((c) => h("th", { scope: "col", text: t(`act_${c}`) })), h("th", { scope: "col", text: t("act_pause_by_reason") }))),
        h(
          "tbody",
          {},
          rows.map(([name, row]) =>
            h(
              "tr",
              {},
              h("th", { scope: "row" }, name),
              COLUMNS.map((c) => h("td", { "data-column": c, dir: "ltr", text: cell(c, row[c]) })),
              h("td", { "data-column": "pause_by_reason", text: Object.entries(row.pause_by_reason).map(([k, v]) => `${reasonText(k)} ${duration(v)}`).join(t("sep")) }),
            ),
          ),
        ),
      ),
    );
  }

  async loadDay() {
    const pairs = { day: this.dayInput.value };
    if (this.supervisor && this.dayAgent.value) pairs.agent = this.dayAgent.value;
    try {
      this.day = await api(`/api/supervision/activity/timeline?${query(pairs)}`);
      showFormErrors(this.dayForm, null);
      this.renderDay();
    } catch (err) {
      showFormErrors(this.dayForm, fieldsOf(err), errorText(err));
    }
  }

  /** The day as one bar: each interval a stretch from its start, as wide as it lasted. */
  renderDay() {
    const d = this.day;
    if (!d) return;
    const start = new Date(d.from).getTime();
    const span = new Date(d.to).getTime() - start;
    const pct = (ms) => `${((100 * ms) / span).toFixed(3)}%`;
    const barOf = (intervals, cls, label) =>
      h(
        "div",
        { class: cls, role: "img", "aria-label": t(label) },
        intervals.map((i) => {
          const from = new Date(i.from).getTime();
          const seg = h("span", {
            class: "seg",
            "data-state": i.state,
            title: `${stateText(i)} ${clock(i.from)}–${clock(i.to)} (${duration(i.seconds)})`,
          });
          seg.style.insetInlineStart = pct(from - start);
          seg.style.width = pct(new Date(i.to).getTime() - from);
          return seg;
        }),
      );
    const signedIn = d.signed_in || [];
    const bar = barOf(d.intervals, "timeline", "activity_bar_label");
    const signins = signedIn.length ? barOf(signedIn, "timeline signin-bar", "activity_signin_bar_label") : null;
    const listOf = (intervals, cls, caption) =>
      h(
        "table",
        { class: `calls-table ${cls}` },
        caption ? h("caption", { text: t(caption) }) : null,
        h("thead", {}, h("tr", {}, ["act_state", "act_from", "act_to", "act_length"].map((k) => h("th", { scope: "col", text: t(k) })))),
        h(
          "tbody",
          {},
          intervals.map((i) =>
            h("tr", { "data-state": i.state }, h("td", { text: stateText(i) }), h("td", { text: clock(i.from) }), h("td", { text: clock(i.to) }), h("td", { text: duration(i.seconds) })),
          ),
        ),
      );
    const hours = h(
      "div",
      { class: "timeline-hours", "aria-hidden": "true" },
      [0, 6, 12, 18, 24].map((hour) => {
        const mark = h("span", { text: digits(String(hour)) });
        mark.style.insetInlineStart = `${(100 * hour) / 24}%`;
        return mark;
      }),
    );
    const legend = h(
      "ul",
      { class: "timeline-legend" },
      [...STATES, "signed_in"].map((s) => h("li", { "data-state": s }, h("span", { class: "seg", "aria-hidden": "true" }), t(`act_${s}`))),
    );
    const any = d.intervals.length || signedIn.length;
    this.timeline.replaceChildren(
      any ? h("div", {}, signins, bar, hours) : h("p", { class: "muted", text: t("activity_day_empty") }),
      legend,
      d.intervals.length ? listOf(d.intervals, "timeline-list", null) : null,
      signedIn.length ? listOf(signedIn, "signin-list", "activity_signin_list") : null,
    );
  }

  async export() {
    const status = this.form.querySelector(".export-status");
    status.textContent = t("exporting");
    try {
      await download(`/api/supervision/activity?${this.params({ format: "csv" })}`, "activity.csv");
      status.textContent = t("exported");
    } catch (err) {
      status.textContent = errorText(err);
    }
  }
}
