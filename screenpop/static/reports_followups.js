// The supervisors' follow-up figures beside the KPI report: cases opened in the period per
// category and priority (opened, closed, mean first-response and resolution time, SLA
// breaches: GET /api/cases/report) and the support contracts ending within the notice
// window, each with its owner's notice task (GET /api/contracts/expiring); and customer
// satisfaction from the post-call surveys (GET /api/reports/csat).

import { h } from "./dom.js";
import "./i18n_followups.js";
import { dayElement, digits, duration, formatCount, t } from "./i18n.js";
import "./i18n_desk.js"; // pct

const CASE_COLUMNS = [
  "opened",
  "closed",
  "mean_first_response_seconds",
  "mean_resolution_seconds",
  "first_response_breached",
  "resolution_breached",
];

export function caseTable(report) {
  if (!report.rows.length) return h("p", { class: "muted", text: t("cases_report_empty") });
  const cell = (row, c) => {
    const value = row[c];
    if (value === null || value === undefined) return "—";
    return c.endsWith("_seconds") ? digits(duration(value)) : formatCount(value);
  };
  return h(
    "table",
    { class: "calls-table cases-report" },
    h("caption", { text: t("cases_report_title") }),
    h(
      "thead",
      {},
      h("tr", {}, h("th", { scope: "col", text: t("cases_report_class") }), CASE_COLUMNS.map((c) => h("th", { scope: "col", text: t(`cr_${c}`) }))),
    ),
    h(
      "tbody",
      {},
      report.rows.map((row) => {
        const all = row.category === "*";
        const label = all ? t("cases_report_all") : [row.category || t("cases_report_no_category"), t(`priority_${row.priority}`)].join(t("sep"));
        const breached = row.first_response_breached + row.resolution_breached > 0;
        return h(
          "tr",
          { class: breached ? "case-breached" : null },
          h("th", { scope: "row" }, h("bdi", { text: label })),
          CASE_COLUMNS.map((c) => h("td", { "data-col": c, class: c.endsWith("breached") && row[c] ? "overdue" : null, text: cell(row, c) })),
        );
      }),
    ),
  );
}

export function contractList(contracts) {
  return h(
    "section",
    { class: "contracts-ending" },
    h("h3", { text: t("contracts_ending_title") }),
    contracts.length
      ? h(
          "ul",
          {},
          contracts.map((c) =>
            h(
              "li",
              {},
              h("bdi", { text: c.customer_name }),
              ` ${t("sep")}${c.level}${t("sep")}`,
              dayElement(c.ends_on),
              ` (${t("months_left", { n: digits(c.months_left) })})`,
              c.notice_task_id ? null : h("span", { class: "muted", text: ` ${t("contract_no_owner")}` }),
            ),
          ),
        )
      : h("p", { class: "muted", text: t("contracts_ending_none") }),
  );
}

const CSAT_COLUMNS = ["answers", "calls", "satisfied", "csat_pct", "avg_score", "q1_avg", "q2_avg"];

/**
 * Satisfaction from the post-call surveys in the period (GET /api/reports/csat), grouped by
 * agent or queue: CSAT is the share of answers of 4 or 5 (README, "SMS and surveys").
 */
export function csatTable(report, by) {
  const caption = t(by === "queue" ? "csat_by_queue" : "csat_by_agent");
  if (!report.rows.length) {
    return h("section", { class: "csat-report", "data-by": by }, h("h3", { text: caption }), h("p", { class: "muted", text: t("csat_empty") }));
  }
  const cell = (row, c) => {
    const value = row[c];
    if (value === null || value === undefined) return "—";
    if (c === "csat_pct") return t("pct", { n: formatCount(value) });
    return c.endsWith("_avg") || c === "avg_score" ? digits(value.toFixed(1)) : formatCount(value);
  };
  return h(
    "table",
    { class: "calls-table csat-report", "data-by": by },
    h("caption", { text: caption }),
    h(
      "thead",
      {},
      h("tr", {}, h("th", { scope: "col", text: t(by === "queue" ? "csat_queue_col" : "agent") }), CSAT_COLUMNS.map((c) => h("th", { scope: "col", text: t(`csat_${c}`) }))),
    ),
    h(
      "tbody",
      {},
      report.rows.map((row) =>
        h(
          "tr",
          {},
          h("th", { scope: "row" }, h("bdi", { text: row.label || t("csat_no_one") })),
          CSAT_COLUMNS.map((c) => h("td", { "data-col": c, text: cell(row, c) })),
        ),
      ),
    ),
  );
}
