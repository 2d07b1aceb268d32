// The KPI report view over GET /api/reports/kpi: a period (Jalali or Gregorian), a grouping
// (queue, agent, day, hour, week), the service-level and short-abandon thresholds; the
// figures as a table, three charts (calls per hour of the day, service level per day,
// agents side by side) drawn by Chart.js (vendored, see vendor/VENDORED.md), and the
// table as CSV. Agents get their own figures (the API sees to it) and no queue or agent
// pickers.

import "./vendor/chart.umd.js";
import { api } from "./api.js";
import { errorText, field } from "./customers.js";
import { download, query } from "./download.js";
import { h, newId, showFormErrors } from "./dom.js";
import { PRESETS, presetDays, relabelDays, setDay } from "./days.js";
import { applyLang, currentLang, digits, formatCount, formatDay, plural, t } from "./i18n.js";
import { fieldsOf } from "./history.js";
import { caseTable, contractList, csatTable } from "./reports_followups.js";

const { Chart } = globalThis; // the UMD file sets it
const DEFAULT_DAYS = 7;
const COLUMNS = [
  "offered",
  "answered",
  "abandoned",
  "short_abandoned",
  "missed",
  "missed_no_answer",
  "missed_declined",
  "missed_busy",
  "service_level_pct",
  "asa_seconds",
  "longest_wait_seconds",
  "avg_talk_seconds",
  "avg_handle_seconds",
  "outbound",
  "callbacks_done",
];
const BY = ["queue", "agent", "day", "hour", "week"];

const option = (value, key) => h("option", { value, "data-i18n": key, text: t(key) });

export class View {
  constructor({ supervisor }) {
    this.supervisor = supervisor;
    this.charts = [];
    this.result = null;
    this.loading = null;
    const headingId = newId("kpi-h");
    this.heading = h("h2", { id: headingId, tabindex: -1, "data-i18n": "reports_title" });
    this.form = this.buildForm();
    this.status = h("p", { class: "muted", role: "status" });
    this.table = h("div", { class: "kpi-table" });
    this.figures = h("div", { class: "kpi-charts" });
    this.followups = h("div", { class: "pane followup-figures" });
    this.satisfaction = h("div", { class: "pane csat-figures" });
    this.el = h(
      "section",
      { class: "view reports-view", "aria-labelledby": headingId },
      this.heading,
      h("p", { class: "hint", "data-i18n": supervisor ? "reports_intro_supervisor" : "reports_intro_agent" }),
      this.form,
      h("div", { class: "pane" }, this.status, this.table),
      supervisor ? this.followups : null,
      this.satisfaction,
      this.figures,
    );
    applyLang(this.el);
    document.addEventListener("langchange", () => {
      applyLang(this.el);
      relabelDays(this.form);
      this.render();
    });
  }

  buildForm() {
    const input = (name, attrs = {}) =>
      h("input", { name, "data-field": name, autocomplete: "off", dir: "ltr", ...attrs });
    const today = new Date();
    const first = new Date(today.getTime() - (DEFAULT_DAYS - 1) * 86_400_000);
    const from = input("from", { maxlength: 40, required: true });
    const to = input("to", { maxlength: 40, required: true });
    setDay(from, first);
    setDay(to, today);
    this.days = [from, to];
    this.agentSelect = h("select", { name: "agent", "data-field": "agent" }, option("", "any"));
    const by = h(
      "select",
      { name: "by", "data-field": "by" },
      BY.filter((b) => this.supervisor || b !== "queue").map((b) => option(b, `group_${b}`)),
    );
    const form = h(
      "form",
      {
        class: "filters pane",
        novalidate: true,
        onsubmit: (event) => {
          event.preventDefault();
          this.load();
        },
      },
      h(
        "div",
        { class: "filter-grid" },
        field("from_day", from, "day_hint"),
        field("to_day", to, "day_hint"),
        field("group_by", by),
        this.supervisor ? field("queue_label", input("queue", { maxlength: 80 })) : null,
        this.supervisor ? field("agent", this.agentSelect) : null,
        field("sl_seconds", input("service_level_seconds", { inputmode: "numeric", value: 20, maxlength: 3 }), "sl_hint"),
        field("short_abandon", input("short_abandon_seconds", { inputmode: "numeric", value: 5, maxlength: 3 }), "short_hint"),
        field(
          "week_starts",
          h("select", { name: "week_starts", "data-field": "week_starts" }, option("saturday", "saturday"), option("monday", "monday")),
        ),
      ),
      h("p", { class: "form-error", role: "alert" }),
      h(
        "p",
        { class: "actions" },
        h("button", { type: "submit", "data-i18n": "show_report" }),
        PRESETS.map((preset) =>
          h("button", {
            type: "button",
            class: "secondary preset",
            "data-i18n": `preset_${preset}`,
            onclick: () => {
              const [start, end] = presetDays(preset);
              setDay(from, start);
              setDay(to, end);
              this.load();
            },
          }),
        ),
        h("button", {
          type: "button",
          class: "secondary",
          "data-i18n": "export_csv",
          onclick: (event) => this.export(event.currentTarget),
        }),
        h("span", { class: "export-status muted", role: "status" }),
      ),
    );
    return form;
  }

  show() {
    if (this.result) return;
    this.fillAgents();
    this.load();
  }

  hide() {}

  destroy() {
    this.loading?.abort();
    for (const chart of this.charts) chart.destroy();
  }

  async fillAgents() {
    if (!this.supervisor) return;
    try {
      const users = await api("/api/users");
      this.agentSelect.append(
        ...users.filter((u) => u.devices.length).map((u) => h("option", { value: u.id, text: u.full_name || u.username })),
      );
    } catch {
      // The report still runs for everyone.
    }
  }

  params(overrides = {}) {
    const data = new FormData(this.form);
    const pairs = Object.fromEntries(data.entries());
    return query({ ...pairs, ...overrides });
  }

  async load() {
    this.loading?.abort();
    const loading = new AbortController();
    this.loading = loading;
    const get = (overrides) => api(`/api/reports/kpi?${this.params(overrides)}`, { signal: loading.signal });
    this.status.textContent = t("loading");
    this.table.setAttribute("aria-busy", "true");
    try {
      // The table as asked; the charts each by their own grouping, over the same period.
      const signal = loading.signal;
      const csat = (by) => api(`/api/reports/csat?${this.params({ by })}`, { signal });
      const [main, hours, days, agents, cases, contracts, csatAgents, csatQueues] = await Promise.all([
        get({}),
        get({ by: "hour" }),
        get({ by: "day" }),
        get({ by: "agent" }),
        this.supervisor ? api(`/api/cases/report?${this.params()}`, { signal }) : null,
        this.supervisor ? api("/api/contracts/expiring", { signal }) : null,
        csat("agent"),
        this.supervisor ? csat("queue") : null,
      ]);
      showFormErrors(this.form, null);
      this.result = { main, hours, days, agents, cases, contracts, csatAgents, csatQueues };
      this.render();
    } catch (err) {
      if (err.name === "AbortError") return;
      showFormErrors(this.form, fieldsOf(err), errorText(err));
      this.status.textContent = errorText(err);
    } finally {
      if (this.loading === loading) {
        this.loading = null;
        this.table.removeAttribute("aria-busy");
      }
    }
  }

  render() {
    const r = this.result;
    if (!r) return;
    this.status.textContent = r.main.rows.length ? plural("report_rows", r.main.rows.length) : t("report_empty");
    this.table.replaceChildren(r.main.rows.length ? kpiTable(r.main) : "");
    if (r.cases) this.followups.replaceChildren(caseTable(r.cases), contractList(r.contracts));
    this.satisfaction.replaceChildren(csatTable(r.csatAgents, "agent"), r.csatQueues ? csatTable(r.csatQueues, "queue") : "");
    for (const chart of this.charts) chart.destroy();
    this.charts = [];
    this.figures.replaceChildren(
      this.chart("chart_hours", hourly(r.hours.rows)),
      this.chart("chart_sl", {
        type: "line",
        labels: r.days.rows.map((row) => formatDay(row.key).text),
        datasets: [{ key: "service_level_pct", data: r.days.rows.map((row) => row.service_level_pct) }],
        max: 100,
      }),
      this.chart("chart_agents", {
        type: "bar",
        labels: r.agents.rows.map((row) => row.label),
        datasets: [
          { key: "answered", data: r.agents.rows.map((row) => row.answered) },
          { key: "outbound_answered", data: r.agents.rows.map((row) => row.outbound_answered) },
        ],
        horizontal: true,
      }),
    );
  }

  /** A figure: the chart's title, a canvas Chart.js draws on, what it shows in words. */
  chart(key, spec) {
    const id = newId("chart");
    const canvas = h("canvas", { role: "img", "aria-label": t(`${key}_label`) });
    const box = h("div", { class: "chart-box" }, canvas);
    const figure = h(
      "figure",
      { class: "pane chart", "data-chart": key, "aria-labelledby": id },
      h("figcaption", { id, text: t(key) }),
      spec.labels.length ? box : h("p", { class: "muted", text: t("report_empty") }),
    );
    if (!spec.labels.length) return figure;
    const style = getComputedStyle(document.documentElement);
    const color = (name) => style.getPropertyValue(name).trim();
    const palette = [color("--accent"), color("--live"), color("--ringing")];
    const rtl = document.dir === "rtl";
    this.charts.push(
      new Chart(canvas, {
        type: spec.type,
        data: {
          labels: spec.labels.map((label) => digits(label)),
          datasets: spec.datasets.map((d, i) => ({
            label: t(d.key),
            data: d.data,
            backgroundColor: palette[i % palette.length],
            borderColor: palette[i % palette.length],
            spanGaps: true,
          })),
        },
        options: {
          animation: false,
          maintainAspectRatio: false,
          locale: currentLang() === "fa" ? "fa-IR" : "en",
          indexAxis: spec.horizontal ? "y" : "x",
          color: color("--text"),
          font: { family: style.fontFamily },
          scales: {
            x: {
              reverse: rtl && !spec.horizontal,
              beginAtZero: true,
              ticks: { color: color("--muted"), precision: 0 },
              grid: { color: color("--line") },
            },
            y: {
              beginAtZero: true,
              max: spec.max,
              position: rtl && spec.horizontal ? "right" : "left",
              ticks: { color: color("--muted"), precision: 0 },
              grid: { color: color("--line") },
            },
          },
          plugins: {
            legend: { rtl, labels: { color: color("--text") } },
            tooltip: { rtl },
          },
        },
      }),
    );
    return figure;
  }

  async export(button) {
    const status = this.form.querySelector(".export-status");
    button.setAttribute("aria-busy", "true");
    status.textContent = t("exporting");
    try {
      await download(`/api/reports/kpi?${this.params({ format: "csv" })}`, "kpi.csv");
      status.textContent = t("exported");
    } catch (err) {
      status.textContent = errorText(err);
    } finally {
      button.removeAttribute("aria-busy");
    }
  }
}

/**
 * Calls offered and answered in each hour of the day, over every day of the period: the
 * table's figures (app/reports/definitions.py), so the bars add up to its total.
 */
function hourly(rows) {
  const offered = new Array(24).fill(0);
  const answered = new Array(24).fill(0);
  for (const row of rows) {
    const hour = Number(String(row.key).slice(11, 13));
    offered[hour] += row.offered;
    answered[hour] += row.answered;
  }
  const used = offered.map((n, hour) => (n ? hour : null)).filter((hour) => hour !== null);
  if (!used.length) return { type: "bar", labels: [], datasets: [] };
  const hours = [];
  for (let hour = Math.min(...used); hour <= Math.max(...used); hour += 1) hours.push(hour);
  return {
    type: "bar",
    labels: hours.map((hour) => `${String(hour).padStart(2, "0")}:00`),
    datasets: [
      { key: "offered", data: hours.map((hour) => offered[hour]) },
      { key: "answered", data: hours.map((hour) => answered[hour]) },
    ],
  };
}

function kpiTable(result) {
  const cells = (row) =>
    COLUMNS.map((c) =>
      h("td", { "data-col": c, "data-value": row[c] ?? "", text: row[c] === null || row[c] === undefined ? "—" : formatCount(row[c]) }),
    );
  // A team's calls offered to several agents are in several agents' rows: no total there.
  const total = result.total && result.by !== "agent" ? result.total : null;
  return h(
    "table",
    { class: "calls-table kpi" },
    h(
      "thead",
      {},
      h("tr", {}, h("th", { scope: "col", text: t(`group_${result.by}`) }), COLUMNS.map((c) => h("th", { scope: "col", text: t(c) }))),
    ),
    h(
      "tbody",
      {},
      result.rows.map((row) =>
        h("tr", { "data-key": row.key }, h("th", { scope: "row" }, h("bdi", { text: groupLabel(result.by, row) })), cells(row)),
      ),
    ),
    total ? h("tfoot", {}, h("tr", { "data-key": "total" }, h("th", { scope: "row", text: t("total") }), cells(total))) : null,
  );
}

/** A row's group as the reader reads it: days and hours in their calendar, named queues. */
function groupLabel(by, row) {
  const key = String(row.key ?? "");
  if (by === "day") return formatDay(key).text;
  if (by === "week") return t("week_of", { day: formatDay(key).text });
  if (by === "hour") return `${formatDay(key.slice(0, 10)).text} ${digits(key.slice(11))}`;
  if (by === "queue" && !key) return t("no_queue");
  return digits(row.label || t("none"));
}
