// Period reports over GET /api/supervision/periods and /periods/heatmap (supervisors): the
// inbound calls grouped by day, week, Jalali month or Gregorian month, the whole period next
// to the one before it (the changes shown), the hour-of-day heat map of answered and
// abandoned calls per weekday; as CSV, and as a printable page (the browser's print, or
// print to PDF: the print style sheet leaves only the report).

import { centerToday } from "./days.js";
import { api } from "./api.js";
import { errorText, field } from "./customers.js";
import { h, newId, showFormErrors } from "./dom.js";
import { download, query } from "./download.js";
import { fieldsOf } from "./history.js";
import { applyLang, currentLang, digits, duration, formatCount, t } from "./i18n.js";

const FIGURES = ["offered", "answered", "abandoned", "short_abandoned", "missed", "service_level_pct", "answer_rate_pct", "asa_seconds", "avg_talk_seconds", "longest_wait_seconds"];
const GROUPS = ["day", "week", "jalali_month", "month"];
// ISO weekdays in the order an Iranian week runs (Saturday first), and the English one.
const WEEK_FA = [6, 7, 1, 2, 3, 4, 5];
const WEEK_EN = [1, 2, 3, 4, 5, 6, 7];

function today() {
  const now = centerToday(); // the call center's day, not the browser's
  if (currentLang() === "fa") {
    const parts = new Intl.DateTimeFormat("en-u-ca-persian-nu-latn", { year: "numeric", month: "2-digit", day: "2-digit" }).formatToParts(now);
    const part = (type) => parts.find((p) => p.type === type).value;
    return `${part("year")}-${part("month")}-01`;
  }
  return new Date(now.getTime() - now.getTimezoneOffset() * 60_000).toISOString().slice(0, 8) + "01";
}

function value(key, v) {
  if (v === null || v === undefined) return "—";
  if (key.endsWith("_pct")) return t("pct", { n: formatCount(v) });
  if (key.endsWith("_seconds")) return duration(v);
  return formatCount(v);
}

function delta(key, d) {
  if (d.delta === null) return "—";
  const sign = d.delta > 0 ? "+" : d.delta < 0 ? "−" : "±";
  const amount = key.endsWith("_seconds") ? duration(Math.abs(d.delta)) : formatCount(Math.abs(d.delta));
  const pct = d.delta_pct === null ? "" : ` (${sign}${t("pct", { n: formatCount(Math.abs(d.delta_pct)) })})`;
  return `${sign}${amount}${pct}`;
}

export class View {
  constructor() {
    this.result = null;
    const headingId = newId("per-h");
    this.heading = h("h2", { id: headingId, tabindex: -1, "data-i18n": "periods_title" });
    const input = (name, v) => h("input", { name, "data-field": name, autocomplete: "off", dir: "ltr", maxlength: 40, value: v });
    this.form = h(
      "form",
      { class: "filters pane no-print", novalidate: true, onsubmit: (e) => (e.preventDefault(), this.load()) },
      h(
        "div",
        { class: "filter-grid" },
        field("from_day", input("from", today()), "day_hint"),
        field("to_day", input("to", today()), "day_hint"),
        field("group_by", h("select", { name: "by", "data-field": "by" }, GROUPS.map((g) => h("option", { value: g, "data-i18n": `per_${g}` })))),
        field("queue_label", input("queue", "")),
      ),
      h("p", { class: "form-error", role: "alert" }),
      h(
        "p",
        { class: "actions" },
        h("button", { type: "submit", "data-i18n": "show_report" }),
        h("button", { type: "button", class: "secondary", "data-i18n": "export_csv", onclick: () => this.export() }),
        h("button", { type: "button", class: "secondary", "data-i18n": "print", onclick: () => window.print() }),
        h("span", { class: "export-status muted", role: "status" }),
      ),
    );
    this.status = h("p", { class: "muted", role: "status" });
    this.body = h("div", { class: "periods-body" });
    this.el = h("section", { class: "view periods-view", "aria-labelledby": headingId }, this.heading, this.form, h("div", { class: "pane" }, this.status, this.body));
    applyLang(this.el);
    document.addEventListener("langchange", () => {
      applyLang(this.el);
      this.render();
    });
  }

  show() {
    if (!this.result) this.load();
  }

  hide() {}

  destroy() {}

  params(overrides = {}) {
    return query({ ...Object.fromEntries(new FormData(this.form).entries()), ...overrides });
  }

  async load() {
    this.status.textContent = t("loading");
    try {
      const [report, heat] = await Promise.all([
        api(`/api/supervision/periods?${this.params()}`),
        api(`/api/supervision/periods/heatmap?${this.params({ by: "" })}`),
      ]);
      showFormErrors(this.form, null);
      this.result = { report, heat };
      this.render();
    } catch (err) {
      showFormErrors(this.form, fieldsOf(err), errorText(err));
      this.status.textContent = errorText(err);
    }
  }

  render() {
    if (!this.result) return;
    const { report, heat } = this.result;
    this.status.textContent = report.groups.length ? t("report_rows", { n: formatCount(report.groups.length) }) : t("report_empty");
    const head = (first) => h("thead", {}, h("tr", {}, h("th", { scope: "col", text: first }), FIGURES.map((f) => h("th", { scope: "col", text: t(f) }))));
    const row = (label, r, cls) => h("tr", { class: cls }, h("th", { scope: "row", text: label }), FIGURES.map((f) => h("td", { "data-column": f, text: value(f, r[f]) })));
    const groups = h(
      "table",
      { class: "calls-table periods" },
      head(t(`per_${report.by}`)),
      h("tbody", {}, report.groups.map((g) => row(digits(g.key), g)), row(t("per_total"), report.total, "total")),
    );
    const compare = h(
      "table",
      { class: "calls-table periods-compare" },
      h("caption", { text: t("per_compare") }),
      h("thead", {}, h("tr", {}, ["", "per_now", "per_before", "per_change"].map((k) => h("th", { scope: "col", text: k ? t(k) : "" })))),
      h(
        "tbody",
        {},
        FIGURES.map((f) => {
          const d = report.compared[f];
          return h("tr", { "data-figure": f }, h("th", { scope: "row", text: t(f) }), h("td", { text: value(f, d.now) }), h("td", { text: value(f, d.before) }), h("td", { class: "delta", dir: "ltr", text: delta(f, d) }));
        }),
      ),
    );
    this.body.replaceChildren(groups, compare, heatTable(heat, "answered"), heatTable(heat, "abandoned"));
  }

  async export() {
    const status = this.form.querySelector(".export-status");
    status.textContent = t("exporting");
    try {
      await download(`/api/supervision/periods?${this.params({ format: "csv" })}`, "periods.csv");
      status.textContent = t("exported");
    } catch (err) {
      status.textContent = errorText(err);
    }
  }
}

/** Weekdays down, hours across; each cell shaded by its share of the busiest hour. */
function heatTable(heat, kind) {
  const grid = heat[kind];
  const most = Math.max(1, ...grid.flat());
  const order = currentLang() === "fa" ? WEEK_FA : WEEK_EN;
  const names = new Intl.DateTimeFormat(currentLang() === "fa" ? "fa-IR" : "en-GB", { weekday: "short" });
  // 2024-01-01 was a Monday: ISO weekday n is that day + n - 1.
  const dayName = (n) => names.format(new Date(Date.UTC(2024, 0, n, 12)));
  return h(
    "table",
    { class: `calls-table heatmap heat-${kind}` },
    h("caption", { text: t(`per_heat_${kind}`) }),
    h("thead", {}, h("tr", {}, h("th", { scope: "col", text: "" }), Array.from({ length: 24 }, (_, hour) => h("th", { scope: "col", text: digits(String(hour)) })))),
    h(
      "tbody",
      {},
      order.map((dow) =>
        h(
          "tr",
          {},
          h("th", { scope: "row", text: dayName(dow) }),
          grid[dow - 1].map((n) => {
            const td = h("td", { text: n ? formatCount(n) : "" });
            td.style.setProperty("--heat", String(n / most));
            return td;
          }),
        ),
      ),
    ),
  );
}
