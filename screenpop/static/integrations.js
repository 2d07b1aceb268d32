// The admins' integrations view over /api/admin/webhooks: the webhook endpoints (add one
// with its event types, its signing secret shown once; turn it on and off; remove it), and
// the delivery log (each delivery's status, tries, the endpoint's last status code and how
// long it took, the error) with a redelivery button on every row.

import { api } from "./api.js";
import { errorText } from "./customers.js";
import { h, newId, showFormErrors } from "./dom.js";
import { addStrings, applyLang, digits, formatCount, t, timeElement } from "./i18n.js";

addStrings({
  fa: {
    integrations_title: "یکپارچه‌سازی: وب‌هوک‌ها",
    integrations_intro:
      "رویدادهای تماس، ضبط، کد پیگیری و تماس برگشتی به این نشانی‌ها فرستاده می‌شوند؛ هر درخواست با سرِ Tamas-Signature امضا شده است.",
    webhook_add: "افزودن نشانی",
    webhook_url: "نشانی (URL)",
    webhook_description: "توضیح",
    webhook_types: "رویدادها",
    webhook_secret_once: "کلید امضا (فقط همین یک بار نشان داده می‌شود):",
    webhook_endpoints: "نشانی‌ها",
    webhook_none: "هنوز نشانی‌ای ثبت نشده است.",
    webhook_enabled: "فعال",
    webhook_disabled: "غیرفعال",
    webhook_enable: "فعال کن",
    webhook_disable: "غیرفعال کن",
    webhook_delete: "حذف",
    webhook_delete_confirm: "این نشانی و گزارش ارسال‌هایش حذف شود؟",
    webhook_show_log: "گزارش ارسال",
    webhook_log: "گزارش ارسال",
    webhook_log_all: "همه نشانی‌ها",
    webhook_log_empty: "ارسالی نیست.",
    webhook_refresh: "تازه‌سازی",
    webhook_redeliver: "ارسال دوباره",
    webhook_redelivered: "دوباره در صف ارسال گذاشته شد.",
    webhook_counts: "رسیده {delivered} · در صف {pending} · ناموفق {dead}",
    col_id: "شماره",
    col_event: "رویداد",
    col_status: "وضعیت",
    col_attempts: "تلاش",
    col_code: "پاسخ",
    col_ms: "زمان (ms)",
    col_created: "ساخته شده",
    col_error: "خطا",
    status_any: "همه وضعیت‌ها",
    wh_status_pending: "در صف",
    wh_status_delivering: "در حال ارسال",
    wh_status_delivered: "رسید",
    wh_status_dead: "ناموفق (کنار گذاشته شد)",
  },
  en: {
    integrations_title: "Integrations: webhooks",
    integrations_intro:
      "Call, recording, tracking-code and callback events are sent to these URLs; every request is signed in its Tamas-Signature header.",
    webhook_add: "Add a URL",
    webhook_url: "URL",
    webhook_description: "Description",
    webhook_types: "Events",
    webhook_secret_once: "Signing secret (shown this once only):",
    webhook_endpoints: "URLs",
    webhook_none: "No URL registered yet.",
    webhook_enabled: "on",
    webhook_disabled: "off",
    webhook_enable: "Turn on",
    webhook_disable: "Turn off",
    webhook_delete: "Remove",
    webhook_delete_confirm: "Remove this URL and its delivery log?",
    webhook_show_log: "Delivery log",
    webhook_log: "Delivery log",
    webhook_log_all: "All URLs",
    webhook_log_empty: "No deliveries.",
    webhook_refresh: "Refresh",
    webhook_redeliver: "Send again",
    webhook_redelivered: "Queued to be sent again.",
    webhook_counts: "delivered {delivered} · queued {pending} · dead {dead}",
    col_id: "No.",
    col_event: "Event",
    col_status: "Status",
    col_attempts: "Tries",
    col_code: "Answer",
    col_ms: "Time (ms)",
    col_created: "Created",
    col_error: "Error",
    status_any: "Any status",
    wh_status_pending: "queued",
    wh_status_delivering: "sending",
    wh_status_delivered: "delivered",
    wh_status_dead: "dead (given up)",
  },
});

const STATUSES = ["pending", "delivering", "delivered", "dead"];

export class View {
  constructor() {
    this.types = [];
    this.endpoints = [];
    this.deliveries = [];
    this.endpointFilter = "";
    const headingId = newId("wh-h");
    this.heading = h("h2", { id: headingId, tabindex: -1, "data-i18n": "integrations_title" });
    this.form = this.buildForm();
    this.secret = h("p", { class: "webhook-secret", role: "status", hidden: true });
    this.list = h("div", { class: "webhook-endpoints" });
    this.status = h("p", { class: "muted", role: "status" });
    this.statusSelect = h(
      "select",
      { name: "status", "aria-label": t("col_status"), onchange: () => this.loadLog() },
      h("option", { value: "", "data-i18n": "status_any" }),
      STATUSES.map((s) => h("option", { value: s, "data-i18n": `wh_status_${s}` })),
    );
    this.endpointSelect = h("select", {
      name: "endpoint",
      "aria-label": t("webhook_endpoints"),
      onchange: () => {
        this.endpointFilter = this.endpointSelect.value;
        this.loadLog();
      },
    });
    this.log = h("div", { class: "webhook-log" });
    const logId = newId("wh-log-h");
    this.el = h(
      "section",
      { class: "view integrations-view", "aria-labelledby": headingId },
      this.heading,
      h("p", { class: "hint", "data-i18n": "integrations_intro" }),
      h("div", { class: "pane" }, this.form, this.secret),
      h(
        "section",
        { class: "pane", "aria-labelledby": `${headingId}-list` },
        h("h3", { id: `${headingId}-list`, "data-i18n": "webhook_endpoints" }),
        this.list,
      ),
      h(
        "section",
        { class: "pane", "aria-labelledby": logId },
        h("h3", { id: logId, "data-i18n": "webhook_log" }),
        h(
          "p",
          { class: "webhook-filters" },
          this.endpointSelect,
          this.statusSelect,
          h("button", {
            type: "button",
            class: "secondary",
            "data-i18n": "webhook_refresh",
            onclick: () => this.refresh(),
          }),
        ),
        this.status,
        this.log,
      ),
    );
    applyLang(this.el);
    document.addEventListener("langchange", () => {
      applyLang(this.el);
      this.render();
    });
  }

  buildForm() {
    const urlId = newId("wh-url");
    const descId = newId("wh-desc");
    this.typeBoxes = h("fieldset", { class: "webhook-types" });
    const form = h(
      "form",
      { class: "webhook-form", novalidate: true },
      h("h3", { "data-i18n": "webhook_add" }),
      h(
        "p",
        { class: "field" },
        h("label", { for: urlId, "data-i18n": "webhook_url" }),
        h("input", {
          id: urlId,
          name: "url",
          "data-field": "url",
          type: "url",
          dir: "ltr",
          required: true,
          autocomplete: "off",
          placeholder: "https://erp.example.com/tamas",
        }),
      ),
      h(
        "p",
        { class: "field" },
        h("label", { for: descId, "data-i18n": "webhook_description" }),
        h("input", { id: descId, name: "description", "data-field": "description" }),
      ),
      this.typeBoxes,
      h("p", { class: "form-error", role: "alert" }),
      h("p", { class: "actions" }, h("button", { type: "submit", "data-i18n": "webhook_add" })),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.add();
    });
    return form;
  }

  show() {
    this.refresh();
  }

  hide() {}

  destroy() {}

  async refresh() {
    try {
      if (!this.types.length) {
        this.types = (await api("/api/admin/webhooks/event-types")).event_types;
        this.renderTypes();
      }
      this.endpoints = await api("/api/admin/webhooks");
      this.renderEndpoints();
      await this.loadLog();
    } catch (err) {
      this.status.textContent = errorText(err);
    }
  }

  renderTypes() {
    this.typeBoxes.replaceChildren(
      h("legend", { "data-i18n": "webhook_types", text: t("webhook_types") }),
      ...this.types.map((type) => {
        const id = newId("wh-type");
        return h(
          "span",
          { class: "check" },
          h("input", { id, type: "checkbox", name: "event_types", value: type, "data-field": "event_types" }),
          h("label", { for: id, dir: "ltr", text: type }),
        );
      }),
    );
  }

  async add() {
    const data = new FormData(this.form);
    const body = {
      url: String(data.get("url") ?? "").trim(),
      description: String(data.get("description") ?? ""),
      event_types: data.getAll("event_types").map(String),
    };
    try {
      const created = await api("/api/admin/webhooks", { method: "POST", body });
      showFormErrors(this.form, null, "");
      this.form.reset();
      this.secret.hidden = false;
      this.secret.replaceChildren(
        h("span", { text: t("webhook_secret_once") }),
        " ",
        h("code", { dir: "ltr", class: "secret", text: created.secret }),
      );
      await this.refresh();
    } catch (err) {
      showFormErrors(this.form, err.error, errorText(err));
    }
  }

  renderEndpoints() {
    const keep = this.endpointFilter;
    this.endpointSelect.replaceChildren(
      h("option", { value: "", text: t("webhook_log_all") }),
      ...this.endpoints.map((e) => h("option", { value: String(e.id), dir: "ltr", text: e.url })),
    );
    this.endpointSelect.value = this.endpoints.some((e) => String(e.id) === keep) ? keep : "";
    this.endpointFilter = this.endpointSelect.value;
    if (!this.endpoints.length) {
      this.list.replaceChildren(h("p", { class: "muted", text: t("webhook_none") }));
      return;
    }
    this.list.replaceChildren(
      h(
        "ul",
        { class: "webhook-list" },
        this.endpoints.map((e) => {
          const counts = e.deliveries ?? {};
          return h(
            "li",
            { class: "webhook", "data-id": e.id },
            h("p", {}, h("bdi", { dir: "ltr", class: "url", text: e.url }), " ",
              h("span", { class: `badge ${e.enabled ? "on" : "off"}`, text: t(e.enabled ? "webhook_enabled" : "webhook_disabled") })),
            e.description ? h("p", { class: "muted", text: e.description }) : null,
            h("p", { class: "muted", dir: "ltr", text: `${e.event_types.join(", ")} · ${e.secret_hint}` }),
            h("p", {
              class: "counts",
              text: t("webhook_counts", {
                delivered: formatCount(counts.delivered ?? 0),
                pending: formatCount((counts.pending ?? 0) + (counts.delivering ?? 0)),
                dead: formatCount(counts.dead ?? 0),
              }),
            }),
            h(
              "p",
              { class: "actions" },
              h("button", {
                type: "button",
                class: "secondary",
                text: t("webhook_show_log"),
                onclick: () => {
                  this.endpointSelect.value = String(e.id);
                  this.endpointFilter = String(e.id);
                  this.loadLog();
                },
              }),
              h("button", {
                type: "button",
                class: "secondary",
                text: t(e.enabled ? "webhook_disable" : "webhook_enable"),
                onclick: () => this.toggle(e),
              }),
              h("button", {
                type: "button",
                class: "secondary danger",
                text: t("webhook_delete"),
                onclick: () => this.remove(e),
              }),
            ),
          );
        }),
      ),
    );
  }

  async toggle(endpoint) {
    try {
      await api(`/api/admin/webhooks/${endpoint.id}`, {
        method: "PATCH",
        body: { enabled: !endpoint.enabled },
      });
      await this.refresh();
    } catch (err) {
      this.status.textContent = errorText(err);
    }
  }

  async remove(endpoint) {
    if (!window.confirm(t("webhook_delete_confirm"))) return;
    try {
      await api(`/api/admin/webhooks/${endpoint.id}`, { method: "DELETE" });
      await this.refresh();
    } catch (err) {
      this.status.textContent = errorText(err);
    }
  }

  async loadLog() {
    const params = new URLSearchParams({ limit: "100" });
    if (this.endpointFilter) params.set("endpoint_id", this.endpointFilter);
    if (this.statusSelect.value) params.set("status", this.statusSelect.value);
    try {
      this.deliveries = await api(`/api/admin/webhooks/deliveries?${params}`);
      this.status.textContent = "";
      this.renderLog();
    } catch (err) {
      this.status.textContent = errorText(err);
    }
  }

  renderLog() {
    if (!this.deliveries.length) {
      this.log.replaceChildren(h("p", { class: "muted", text: t("webhook_log_empty") }));
      return;
    }
    const cols = ["col_id", "col_event", "col_status", "col_attempts", "col_code", "col_ms", "col_created", "col_error", null];
    this.log.replaceChildren(
      h(
        "table",
        { class: "webhook-deliveries" },
        h("thead", {}, h("tr", {}, cols.map((c) => h("th", { scope: "col", text: c ? t(c) : "" })))),
        h(
          "tbody",
          {},
          this.deliveries.map((d) =>
            h(
              "tr",
              { "data-id": d.id, "data-status": d.status },
              h("td", { text: digits(d.id) }),
              h("td", { dir: "ltr", text: d.event_type }),
              h("td", { class: "status", text: t(`wh_status_${d.status}`) }),
              h("td", { text: digits(d.attempts) }),
              h("td", { class: "code", text: d.last_status_code == null ? "—" : digits(d.last_status_code) }),
              h("td", { text: d.last_duration_ms == null ? "—" : digits(d.last_duration_ms.toFixed(1)) }),
              h("td", {}, timeElement(d.created_at)),
              h("td", { class: "error", dir: "ltr", text: d.last_error }),
              h(
                "td",
                {},
                h("button", {
                  type: "button",
                  class: "secondary",
                  text: t("webhook_redeliver"),
                  onclick: () => this.redeliver(d),
                }),
              ),
            ),
          ),
        ),
      ),
    );
  }

  async redeliver(delivery) {
    try {
      await api(`/api/admin/webhooks/deliveries/${delivery.id}/redeliver`, { method: "POST" });
      await this.refresh();
      this.status.textContent = t("webhook_redelivered");
    } catch (err) {
      this.status.textContent = errorText(err);
    }
  }

  render() {
    if (this.types.length) this.renderTypes();
    this.renderEndpoints();
    this.renderLog();
  }
}
