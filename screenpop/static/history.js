// The call history view: filters (dates Jalali or Gregorian, agent, queue, direction,
// outcomes, customer, number in any format, tracking code, talk time, recording,
// disposition), a sort, pages by the API's cursor, the filtered list as CSV (supervisors),
// and a call opened beside the list (callview.js). Agents see their own calls: the API
// keeps them to those, and the page leaves out what only supervisors may use.

import { api } from "./api.js";
import { CallView } from "./callview.js";
import { agentOptions } from "./casework.js";
import { directionText, errorText, extensionOf, field, numberText, outcomeText } from "./customers.js";
import { PRESETS, presetDays, relabelDays, setDay } from "./days.js";
import { download, query } from "./download.js";
import { h, joined, newId, showFormErrors } from "./dom.js";
import { applyLang, digits, dispositionText, duration, plural, t, timeElement } from "./i18n.js";

const PAGE = 50;
const OUTCOMES = ["answered", "missed", "abandoned", "busy", "no_answer", "failed", "live"];
// Why a missed inbound call was missed (the API's missed_reason).
const REASONS = ["no_answer", "declined", "busy"];
const SORTS = ["-started_at", "started_at", "-talk_seconds", "-wait_seconds"];
const COLUMNS = ["date", "direction", "number_col", "agent", "outcome", "reason_col", "wait_col", "talk_time", "rec_col"];

/** An option whose text follows the language (applyLang relabels it). */
const option = (value, key) => h("option", { value, "data-i18n": key, text: t(key) });

export class View {
  constructor({ supervisor, user, openCustomer }) {
    this.supervisor = supervisor;
    this.user = user;
    this.calls = [];
    this.next = null;
    this.params = null; // the filters of the list shown
    this.loading = null;
    this.names = new Map(); // user id -> name (supervisors: everyone's)
    this.callView = new CallView({
      supervisor,
      names: this.names,
      openCustomer,
      onChanged: (call) => this.changed(call),
    });
    const headingId = newId("history-h");
    this.heading = h("h2", { id: headingId, tabindex: -1, "data-i18n": "history_title" });
    this.form = this.buildForm();
    this.status = h("p", { class: "muted", role: "status" });
    this.list = h("div", { class: "history-list" });
    this.more = h("button", {
      type: "button",
      class: "secondary",
      "data-i18n": "more",
      hidden: true,
      onclick: () => this.load({ more: true }),
    });
    this.el = h(
      "section",
      { class: "view history-view", "aria-labelledby": headingId },
      this.heading,
      h("p", {
        class: "hint",
        "data-i18n": supervisor ? "history_intro_supervisor" : "history_intro_agent",
      }),
      this.form,
      h(
        "div",
        { class: "history-body" },
        h("div", { class: "pane" }, this.status, this.list, this.more),
        this.callView.el,
      ),
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
      h("input", { name, "data-field": name, autocomplete: "off", spellcheck: "false", ...attrs });
    const select = (name, options) => h("select", { name, "data-field": name }, options);
    this.agentSelect = select("agent", [option("", "any")]);
    this.dispositionSelect = select("disposition", [option("", "any")]);
    const checks = (name, legend, values, prefix) =>
      h(
        "fieldset",
        { class: "field outcomes" },
        h("legend", { "data-i18n": legend }),
        values.map((o) => {
          const id = newId(name);
          return h(
            "span",
            { class: "check" },
            h("input", { type: "checkbox", id, name, value: o }),
            h("label", { for: id, "data-i18n": `${prefix}${o}` }),
          );
        }),
      );
    const outcomes = checks("outcome", "outcome", OUTCOMES, "outcome_");
    const reasons = checks("missed_reason", "missed_reason", REASONS, "reason_");
    const from = input("from", { dir: "ltr", maxlength: 40 });
    const to = input("to", { dir: "ltr", maxlength: 40 });
    this.days = [from, to];
    // The filters used every day in one bar; the rest folded under "more filters" (opened
    // by itself when one of them is set).
    this.moreFilters = h(
      "details",
      { class: "more-filters" },
      h("summary", { "data-i18n": "more_filters" }),
      h(
        "div",
        { class: "filter-grid" },
        field("queue_label", input("queue", { dir: "ltr", maxlength: 80 })),
        field(
          "direction",
          select("direction", [option("", "any"), ...["inbound", "outbound", "internal"].map((d) => option(d, `direction_${d}`))]),
        ),
        field("customer_id", input("customer", { dir: "ltr", inputmode: "numeric", maxlength: 19 })),
        field("tracking_code", input("tracking_code", { dir: "ltr", inputmode: "numeric", maxlength: 40 })),
        field("min_talk", input("min_talk", { dir: "ltr", inputmode: "numeric", maxlength: 8 })),
        field("max_talk", input("max_talk", { dir: "ltr", inputmode: "numeric", maxlength: 8 })),
        field(
          "has_recording",
          select("has_recording", [option("", "any"), option("true", "yes"), option("false", "no")]),
        ),
        field("disposition", this.dispositionSelect),
        field("sort", select("sort", SORTS.map((s) => option(s, `sort_${s.replace("-", "desc_")}`)))),
      ),
      outcomes,
      reasons,
    );
    const form = h(
      "form",
      {
        class: "filters pane compact",
        role: "search",
        novalidate: true,
        onsubmit: (event) => {
          event.preventDefault();
          this.load();
        },
      },
      h(
        "div",
        { class: "filter-bar" },
        field("from_day", from, "day_hint"),
        field("to_day", to),
        h(
          "p",
          { class: "presets" },
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
        ),
        this.supervisor ? field("agent", this.agentSelect) : null,
        field("number", input("number", { dir: "ltr", inputmode: "tel", maxlength: 64 })),
        h(
          "p",
          { class: "actions" },
          h("button", { type: "submit", "data-i18n": "search" }),
          h("button", {
            type: "button",
            class: "secondary",
            "data-i18n": "clear_filters",
            onclick: () => {
              form.reset();
              for (const day of this.days) delete day.dataset.day;
              this.load();
            },
          }),
          this.supervisor
            ? h("button", {
                type: "button",
                class: "secondary",
                "data-i18n": "export_csv",
                onclick: (event) => this.export(event.currentTarget),
              })
            : null,
          h("span", { class: "export-status muted", role: "status" }),
        ),
      ),
      this.moreFilters,
      h("p", { class: "form-error", role: "alert" }),
    );
    return form;
  }

  show() {
    if (this.params) return;
    this.fillChoices();
    this.load();
  }

  hide() {
    this.callView.pause();
  }

  destroy() {
    this.loading?.abort();
    this.callView.destroy();
  }

  /** The agents and the dispositions to pick from (both lists are small). */
  async fillChoices() {
    try {
      const { dispositions } = await agentOptions();
      this.dispositionSelect.append(...dispositions.map((d) => h("option", { value: d, text: dispositionText(d) })));
    } catch {
      // The filter still takes no disposition; the list shows what failed.
    }
    this.names.set(this.user?.id, this.user?.full_name || this.user?.username);
    if (!this.supervisor) return;
    try {
      const users = await api("/api/users");
      for (const u of users) this.names.set(u.id, u.full_name || u.username);
      const agents = users.filter((u) => u.devices.length);
      this.agentSelect.append(...agents.map((u) => h("option", { value: u.id, text: u.full_name || u.username })));
      this.render();
    } catch {
      // Without names the list shows extensions.
    }
  }

  /** The form's filters as the API's query parameters. */
  filters() {
    const data = new FormData(this.form);
    const pairs = {};
    for (const name of new Set(data.keys())) pairs[name] = data.getAll(name);
    return query(pairs);
  }

  async load({ more = false } = {}) {
    this.loading?.abort();
    const loading = new AbortController();
    this.loading = loading;
    if (!more) this.params = this.filters();
    const params = new URLSearchParams(this.params);
    params.set("limit", String(PAGE));
    if (more && this.next) params.set("cursor", this.next);
    this.list.setAttribute("aria-busy", "true");
    this.status.textContent = t("loading");
    try {
      const page = await api(`/api/history?${params}`, { signal: loading.signal });
      showFormErrors(this.form, null);
      this.calls = more ? this.calls.concat(page.items) : page.items;
      this.next = page.next_cursor;
      this.render();
    } catch (err) {
      if (err.name === "AbortError") return;
      showFormErrors(this.form, fieldsOf(err), errorText(err));
      this.status.textContent = errorText(err);
    } finally {
      if (this.loading === loading) {
        this.loading = null;
        this.list.removeAttribute("aria-busy");
      }
    }
  }

  render() {
    if (!this.params) return;
    this.status.textContent = this.calls.length
      ? plural(this.next ? "history_count_more" : "history_count", this.calls.length)
      : t("history_none");
    this.more.hidden = !this.next;
    if (!this.calls.length) {
      this.list.replaceChildren();
      return;
    }
    this.list.replaceChildren(
      h(
        "table",
        { class: "calls-table" },
        h("thead", {}, h("tr", {}, COLUMNS.map((key) => h("th", { scope: "col", text: t(key) })))),
        h("tbody", {}, this.calls.map((call) => this.row(call))),
      ),
    );
  }

  row(call) {
    const open = h(
      "button",
      {
        type: "button",
        class: "link",
        "aria-label": t("open_call_label", { n: digits(call.id) }),
        "aria-current": this.callView.callId === call.id ? "true" : null,
        onclick: () => this.callView.open(call.id),
      },
      timeElement(call.started_at),
    );
    const number = call.number_display || call.customer_number || call.caller_number;
    return h(
      "tr",
      { "data-call": call.id },
      h("td", {}, open),
      h("td", {}, joined([directionText(call.direction), call.queue ? t("queue", { queue: call.queue }) : null], t("sep"))),
      h("td", {}, number ? numberText(number) : "—", call.caller_name ? [" ", h("bdi", { class: "muted", text: call.caller_name })] : null),
      h("td", {}, this.agentOf(call)),
      h("td", {}, joined([outcomeText(call.outcome), call.disposition ? dispositionText(call.disposition) : null], t("sep"))),
      h("td", { "data-reason": call.missed_reason || null }, call.missed_reason ? t(`reason_${call.missed_reason}`) : "—"),
      h("td", {}, seconds(call.wait_seconds)),
      h("td", {}, seconds(call.talk_seconds)),
      h("td", {}, call.recording_files?.length ? t("rec_count", { n: digits(call.recording_files.length) }) : "—"),
    );
  }

  agentOf(call) {
    const name = this.names.get(call.answered_by_user_id);
    if (name) return h("bdi", { text: name });
    return call.answered_by ? numberText(extensionOf(call.answered_by)) : "—";
  }

  /** The call view saved a change (a disposition): the row shows it too. */
  changed(call) {
    const at = this.calls.findIndex((c) => c.id === call.id);
    if (at >= 0) {
      this.calls[at] = { ...this.calls[at], disposition: call.disposition };
      this.render();
    }
  }

  async export(button) {
    const status = this.form.querySelector(".export-status");
    button.setAttribute("aria-busy", "true");
    status.textContent = t("exporting");
    try {
      await download(`/api/history/export.csv?${this.filters()}`, "calls.csv");
      status.textContent = t("exported");
    } catch (err) {
      status.textContent = errorText(err);
    } finally {
      button.removeAttribute("aria-busy");
    }
  }
}

const seconds = (s) => (s ? h("span", { dir: "ltr", text: duration(s) }) : "—");

/** The API's field errors named as the form's inputs ("query.from" -> "from"). */
export function fieldsOf(err) {
  const error = err?.error;
  if (!error) return error;
  const fields = (error.fields ?? []).map((f) => ({ ...f, field: String(f.field).replace(/^query\./, "") }));
  return { ...error, fields };
}
