// Support contracts: the badge a pop card shows for each customer (active, expiring in N
// days, expired: loud, it changes what the agent says), and the customer card's section
// with the status and every contract, where supervisors add one (Jalali dates accepted).

import { api, currentUser } from "./api.js";
import { errorText, field } from "./customers.js";
import { h, showFormErrors } from "./dom.js";
import "./i18n_followups.js";
import { applyLang, dayElement, digits, formatDay, t } from "./i18n.js";

const SUPERVISORS = new Set(["supervisor", "admin"]);

/**
 * The contract status ({status, level, ends_on, days_left}) as a badge; null for none
 * (unless `none`, the customer card's way of saying there is none).
 */
export function contractBadge(contract, { none = false } = {}) {
  const status = contract?.status ?? "none";
  if (status === "none") {
    return none ? h("span", { class: "muted", text: t("contract_none") }) : null;
  }
  const level = contract.level ? ` (${contract.level})` : "";
  const day = contract.ends_on ? formatDay(contract.ends_on) : { text: "", title: "" };
  let text;
  if (status === "expired") text = t("contract_expired", { level, date: day.text });
  else if (status === "expiring") {
    text = contract.days_left
      ? t("contract_expiring", { level, n: digits(contract.days_left) })
      : t("contract_expiring_today", { level });
  } else if (contract.notice && contract.months_left) {
    // Within the contract-notice window: "ends in 2 months" (time to talk renewal).
    text = t("contract_notice", { level, n: digits(contract.months_left) });
  } else text = t("contract_active", { level, date: day.text });
  return h(
    "span",
    { class: `badge contract contract-${status}`, title: day.title || null },
    status === "expired" ? h("span", { "aria-hidden": "true", text: "⚠ " }) : null,
    text,
  );
}

export const expired = (customer) => customer.contract?.status === "expired";

/** The customer card's contracts: status, history, and (supervisors) a form to add one. */
export class ContractSection {
  constructor() {
    this.el = h("section", { class: "contracts" });
    this.customerId = null;
    this.status = null;
    this.contracts = [];
    this.problem = null;
    this.form = null; // built once per customer: what is typed survives a re-render
    this.loading = null;
    document.addEventListener("langchange", () => this.render());
  }

  async load(customerId) {
    this.loading?.abort();
    const loading = new AbortController();
    this.loading = loading;
    if (customerId !== this.customerId) this.form = null;
    this.customerId = customerId;
    try {
      const [status, contracts] = await Promise.all([
        api(`/api/customers/${customerId}/contract-status`, { signal: loading.signal }),
        api(`/api/customers/${customerId}/contracts`, { signal: loading.signal }),
      ]);
      Object.assign(this, { status, contracts, problem: null });
    } catch (err) {
      if (err.name === "AbortError") return;
      this.problem = errorText(err);
    }
    this.render();
  }

  clear() {
    this.loading?.abort();
    Object.assign(this, { customerId: null, status: null, contracts: [], form: null });
    this.el.replaceChildren();
  }

  render() {
    if (this.customerId === null) return;
    const focused = this.form?.contains(document.activeElement) ? document.activeElement : null;
    const parts = [
      h("h4", { text: t("contracts") }),
      this.problem ? h("p", { class: "error", role: "alert", text: this.problem }) : null,
      this.status
        ? h("p", { class: "contract-status" }, contractBadge(this.status, { none: true }))
        : null,
      this.contracts.length
        ? h(
            "ul",
            { class: "contract-list" },
            [...this.contracts].reverse().map((c) =>
              h(
                "li",
                {},
                h("bdi", { class: "contract-level", text: c.level }),
                " ",
                h("span", {}, dayElement(c.starts_on), " – ", dayElement(c.ends_on)),
                c.notes ? h("span", { class: "muted", text: ` ${c.notes}` }) : null,
              ),
            ),
          )
        : null,
      SUPERVISORS.has(currentUser()?.role) ? this.addForm() : null,
    ];
    this.el.replaceChildren(...parts.filter(Boolean));
    focused?.focus();
  }

  addForm() {
    if (this.form) {
      applyLang(this.form.parentElement);
      return this.form.parentElement;
    }
    const date = (name) =>
      h("input", { "data-field": name, dir: "ltr", inputmode: "numeric", autocomplete: "off" });
    const inputs = {
      level: h("input", { "data-field": "level", maxlength: 40, autocomplete: "off" }),
      starts_on: date("starts_on"),
      ends_on: date("ends_on"),
      notes: h("textarea", { "data-field": "notes", rows: 2, maxlength: 2000 }),
    };
    const save = h("button", { type: "submit", "data-i18n": "save", text: t("save") });
    const status = h("p", { class: "muted", role: "status" });
    const form = h(
      "form",
      { novalidate: true },
      field("contract_level", inputs.level),
      field("contract_starts", inputs.starts_on, "date_hint"),
      field("contract_ends", inputs.ends_on, "date_hint"),
      field("contract_notes", inputs.notes),
      h("p", { class: "form-error", role: "alert" }),
      h("p", { class: "actions" }, save),
      status,
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const customerId = this.customerId;
      const body = Object.fromEntries(
        Object.entries(inputs).map(([name, input]) => [name, input.value.trim()]),
      );
      save.disabled = true;
      status.textContent = "";
      try {
        await api(`/api/customers/${customerId}/contracts`, { method: "POST", body });
        showFormErrors(form, null);
        for (const input of Object.values(inputs)) input.value = "";
        status.textContent = t("contract_added");
        if (this.customerId === customerId) await this.load(customerId);
      } catch (err) {
        showFormErrors(form, err.error, errorText(err));
      } finally {
        save.disabled = false;
      }
    });
    this.form = form;
    return h(
      "details",
      { class: "add-contract" },
      h("summary", { "data-i18n": "add_contract", text: t("add_contract") }),
      form,
    );
  }
}
