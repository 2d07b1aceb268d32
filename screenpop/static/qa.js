// QA reviews over /api/supervision/qa: the reviews (an agent's own; a supervisor picks an
// agent), each with its score, whether a critical question failed it, the answers, and for
// the agent reviewed "acknowledge" or "dispute" (with why); and the agent's score trend per
// week, as a Chart.js line with the same figures in a table. Admins make and change the
// forms in their own view (qa_forms.js).

import "./vendor/chart.umd.js";
import { api } from "./api.js";
import { errorText, field } from "./customers.js";
import { h, newId } from "./dom.js";
import { query } from "./download.js";
import { applyLang, digits, formatCount, t, timeElement } from "./i18n.js";

const { Chart } = globalThis;
const TREND_DAYS = 180;

const isoDay = (d) => new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 10);

export class View {
  constructor({ supervisor, user }) {
    this.supervisor = supervisor;
    this.user = user;
    this.reviews = [];
    this.trend = [];
    this.chart = null;
    const headingId = newId("qa-h");
    this.heading = h("h2", { id: headingId, tabindex: -1, "data-i18n": "qa_title" });
    this.agent = h("select", { name: "agent", onchange: () => this.load() }, h("option", { value: "", "data-i18n": "any" }));
    this.status = h("p", { class: "muted", role: "status" });
    this.list = h("div", { class: "qa-list" });
    this.figure = h("div", { class: "qa-trend" });
    this.el = h(
      "section",
      { class: "view qa-view", "aria-labelledby": headingId },
      this.heading,
      supervisor ? h("div", { class: "filters pane" }, field("agent", this.agent)) : null,
      this.figure,
      h("div", { class: "pane" }, this.status, this.list),
      user?.role === "admin" ? h("p", { class: "pane" }, h("a", { href: "#qa-forms", "data-i18n": "qa_manage_forms" })) : null,
    );
    applyLang(this.el);
    document.addEventListener("langchange", () => {
      applyLang(this.el);
      this.render();
    });
  }

  async show() {
    if (this.loaded) return;
    this.loaded = true;
    if (this.supervisor) {
      try {
        const users = (await api("/api/users")).filter((u) => u.devices.length);
        this.agent.append(...users.map((u) => h("option", { value: u.id, text: u.full_name || u.username })));
      } catch {
        // Every review still shows.
      }
    }
    await this.load();
  }

  hide() {}

  destroy() {
    this.chart?.destroy();
  }

  async load() {
    this.status.textContent = t("loading");
    const agent = this.supervisor ? this.agent.value : String(this.user?.id ?? "");
    const to = new Date();
    const from = new Date(to.getTime() - TREND_DAYS * 86_400_000);
    try {
      this.reviews = await api(`/api/supervision/qa/reviews?${query({ agent })}`);
      this.trend = agent
        ? (await api(`/api/supervision/qa/trend?${query({ agent, from: isoDay(from), to: isoDay(to), by: "week" })}`)).rows
        : [];
      this.render();
    } catch (err) {
      this.status.textContent = errorText(err);
    }
  }

  render() {
    this.status.textContent = this.reviews.length ? t("report_rows", { n: formatCount(this.reviews.length) }) : t("qa_none");
    this.list.replaceChildren(...this.reviews.map((r) => this.item(r)));
    this.renderTrend();
  }

  item(r) {
    const mine = r.agent_user_id === this.user?.id && r.status === "submitted";
    const why = h("textarea", { rows: 2, maxlength: 2000, "aria-label": t("qa_dispute_why") });
    const problem = h("p", { class: "error", role: "alert" });
    const respond = async (what) => {
      try {
        const done = await api(`/api/supervision/qa/reviews/${r.id}/${what}`, { method: "POST", body: { comment: why.value } });
        Object.assign(r, done);
        this.render();
      } catch (err) {
        problem.textContent = errorText(err);
      }
    };
    const questions = r.sections.flatMap((s) => s.questions);
    return h(
      "article",
      { class: "qa-review", "data-review": r.id, "data-status": r.status },
      h(
        "p",
        {},
        h("strong", { class: "qa-score", text: t("pct", { n: formatCount(r.score) }) }),
        r.failed ? [" ", h("span", { class: "badge failed", text: t("qa_failed") })] : null,
        " ",
        h("span", { class: "muted", text: t(`qa_status_${r.status}`) }),
        " ",
        timeElement(r.created_at),
      ),
      h(
        "ul",
        { class: "qa-answers" },
        questions.map((q) => {
          const v = r.answers[q.key];
          const shown = v === null || v === undefined ? t("qa_na") : q.kind === "yes_no" ? t(v ? "qa_yes" : "qa_no") : digits(v);
          return h("li", { "data-question": q.key }, `${q.text}: `, h("strong", { text: shown }));
        }),
      ),
      r.comment ? h("p", { class: "review-comment", text: r.comment }) : null,
      r.agent_comment ? h("p", { class: "muted", text: `${t("qa_agent_said")} ${r.agent_comment}` }) : null,
      mine
        ? h(
            "div",
            { class: "actions" },
            why,
            h("button", { type: "button", text: t("qa_acknowledge"), onclick: () => respond("acknowledge") }),
            h("button", { type: "button", class: "secondary", text: t("qa_dispute"), onclick: () => respond("dispute") }),
          )
        : null,
      problem,
    );
  }

  renderTrend() {
    this.chart?.destroy();
    this.chart = null;
    if (!this.trend.length) return this.figure.replaceChildren();
    const canvas = h("canvas", { role: "img", "aria-label": t("qa_trend_label") });
    const table = h(
      "table",
      { class: "calls-table qa-trend-table" },
      h("thead", {}, h("tr", {}, ["qa_week", "qa_reviews", "qa_avg", "qa_failed"].map((k) => h("th", { scope: "col", text: t(k) })))),
      h(
        "tbody",
        {},
        this.trend.map((row) =>
          h("tr", {}, h("td", { text: digits(row.period) }), h("td", { text: formatCount(row.reviews) }), h("td", { text: t("pct", { n: formatCount(row.avg_score) }) }), h("td", { text: formatCount(row.failed) })),
        ),
      ),
    );
    this.figure.replaceChildren(h("figure", { class: "pane chart" }, h("figcaption", { text: t("qa_trend") }), h("div", { class: "chart-box" }, canvas), table));
    const color = getComputedStyle(document.documentElement).getPropertyValue("--accent").trim();
    this.chart = new Chart(canvas, {
      type: "line",
      data: {
        labels: this.trend.map((row) => digits(row.period)),
        datasets: [{ label: t("qa_avg"), data: this.trend.map((row) => row.avg_score), borderColor: color, backgroundColor: color }],
      },
      options: { animation: false, responsive: true, maintainAspectRatio: false, scales: { y: { min: 0, max: 100 } } },
    });
  }
}
