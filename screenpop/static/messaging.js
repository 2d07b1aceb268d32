// The SMS view (supervisors; admins edit): each trigger on or off with its Persian and
// English template (GET/PUT /api/sms/triggers; the variables a template may use are listed
// and checked by the server), and the numbers that asked for no texts (/api/sms/opt-outs:
// add one, take one off).

import { api, currentUser } from "./api.js";
import { errorText, field, numberText } from "./customers.js";
import { readableNumber } from "./dialling.js";
import { h, newId, showFormErrors } from "./dom.js";
import { addStrings, applyLang, digits, t, timeElement } from "./i18n.js";
import { countText } from "./texts.js";

addStrings({
  fa: {
    sms_view_title: "پیامک: ارسال خودکار و انصراف‌ها",
    sms_view_intro:
      "هر رویداد را روشن یا خاموش کنید و متن فارسی و انگلیسی آن را بنویسید؛ متغیرها در آکولاد می‌آیند، مانند {name}.",
    sms_view_admin_only: "فقط مدیر سامانه می‌تواند این‌ها را تغییر دهد.",
    sms_triggers: "ارسال خودکار",
    sms_trigger_on: "فعال",
    sms_template_fa: "متن فارسی",
    sms_template_en: "متن انگلیسی",
    sms_variables: "متغیرها: {list}",
    sms_no_variables: "بدون متغیر",
    sms_trigger_saved: "ذخیره شد.",
    sms_opt_outs: "شماره‌هایی که پیامک نمی‌خواهند",
    sms_opt_outs_none: "شماره‌ای در این فهرست نیست.",
    sms_opt_out_number: "شماره همراه",
    sms_opt_out_reason: "علت",
    sms_opt_out_add: "افزودن به فهرست",
    sms_opt_out_added: "افزوده شد؛ پیامک‌های در صف این شماره لغو شدند.",
    sms_opt_out_remove: "حذف از فهرست",
    sms_opt_out_remove_label: "حذف {number} از فهرست",
    error_template_variable: "این متغیر برای این رویداد تعریف نشده است؛ از فهرست زیر استفاده کنید.",
  },
  en: {
    sms_view_title: "SMS: automatic texts and opt-outs",
    sms_view_intro:
      "Turn each event on or off and write its Persian and English text; variables go in braces, such as {name}.",
    sms_view_admin_only: "Only an administrator can change these.",
    sms_triggers: "Automatic texts",
    sms_trigger_on: "On",
    sms_template_fa: "Persian text",
    sms_template_en: "English text",
    sms_variables: "Variables: {list}",
    sms_no_variables: "no variables",
    sms_trigger_saved: "Saved.",
    sms_opt_outs: "Numbers that asked for no texts",
    sms_opt_outs_none: "No number is on the list.",
    sms_opt_out_number: "Mobile number",
    sms_opt_out_reason: "Reason",
    sms_opt_out_add: "Add to the list",
    sms_opt_out_added: "Added; the texts queued to this number were cancelled.",
    sms_opt_out_remove: "Take off the list",
    sms_opt_out_remove_label: "Take {number} off the list",
    error_template_variable: "This event has no such variable; use those listed below.",
  },
});

export class View {
  constructor() {
    this.admin = currentUser()?.role === "admin";
    this.triggers = [];
    this.optOuts = [];
    this.forms = new Map(); // trigger -> its form, kept across re-renders (what is typed)
    const headingId = newId("sms-h");
    this.heading = h("h2", { id: headingId, tabindex: -1, "data-i18n": "sms_view_title" });
    this.triggerList = h("div", { class: "sms-triggers" });
    this.optOutList = h("div", { class: "sms-opt-outs" });
    this.problem = h("p", { class: "error", role: "alert", hidden: true });
    const triggersId = newId("sms-triggers-h");
    const optOutsId = newId("sms-opt-outs-h");
    this.el = h(
      "section",
      { class: "view sms-view", "aria-labelledby": headingId },
      this.heading,
      h("p", { class: "hint", "data-i18n": "sms_view_intro" }),
      this.admin ? null : h("p", { class: "muted", "data-i18n": "sms_view_admin_only" }),
      this.problem,
      h(
        "section",
        { class: "pane", "aria-labelledby": triggersId },
        h("h3", { id: triggersId, "data-i18n": "sms_triggers" }),
        this.triggerList,
      ),
      h(
        "section",
        { class: "pane", "aria-labelledby": optOutsId },
        h("h3", { id: optOutsId, "data-i18n": "sms_opt_outs" }),
        this.optOutForm(),
        this.optOutList,
      ),
    );
    applyLang(this.el);
    document.addEventListener("langchange", () => {
      applyLang(this.el);
      this.render();
    });
  }

  show() {
    this.refresh();
  }

  hide() {}

  destroy() {}

  async refresh() {
    try {
      [this.triggers, this.optOuts] = await Promise.all([
        api("/api/sms/triggers"),
        api("/api/sms/opt-outs"),
      ]);
      this.problem.hidden = true;
    } catch (err) {
      this.problem.textContent = errorText(err);
      this.problem.hidden = false;
    }
    this.render();
  }

  render() {
    this.triggerList.replaceChildren(...this.triggers.map((tr) => this.triggerForm(tr)));
    this.optOutList.replaceChildren(
      this.optOuts.length
        ? h(
            "ul",
            { class: "opt-out-list" },
            this.optOuts.map((o) => {
              const shown = readableNumber(o.number, o.number);
              return h(
                "li",
                { "data-number": o.number },
                numberText(shown),
                o.reason ? [" ", h("bdi", { class: "muted", text: o.reason })] : null,
                " ",
                timeElement(o.created_at),
                " ",
                h("button", {
                  type: "button",
                  class: "secondary small",
                  text: t("sms_opt_out_remove"),
                  "aria-label": t("sms_opt_out_remove_label", { number: digits(shown) }),
                  onclick: () => this.removeOptOut(o.number),
                }),
              );
            }),
          )
        : h("p", { class: "muted", text: t("sms_opt_outs_none") }),
    );
  }

  triggerForm(trigger) {
    const known = this.forms.get(trigger.trigger);
    if (known) {
      known.refreshText();
      return known;
    }
    const name = t(`sms_trigger_${trigger.trigger}`);
    const enabled = h("input", { type: "checkbox", "data-field": "enabled" });
    enabled.checked = trigger.enabled;
    const fa = h("textarea", { "data-field": "template_fa", rows: 2, maxlength: 1000, dir: "rtl" });
    const en = h("textarea", { "data-field": "template_en", rows: 2, maxlength: 1000, dir: "ltr" });
    fa.value = trigger.template_fa;
    en.value = trigger.template_en;
    const faCount = h("span", { class: "muted sms-count" });
    const enCount = h("span", { class: "muted sms-count" });
    const variables = h("p", { class: "hint" });
    const save = h("button", { type: "submit", "data-i18n": "save", text: t("save") });
    const status = h("p", { class: "muted", role: "status" });
    const legendId = newId("trigger");
    const form = h(
      "form",
      { class: "sms-trigger", "data-trigger": trigger.trigger, novalidate: true, "aria-labelledby": legendId },
      h("h4", { id: legendId, text: name }),
      h("p", { class: "field" }, h("label", {}, enabled, " ", h("span", { "data-i18n": "sms_trigger_on", text: t("sms_trigger_on") }))),
      field("sms_template_fa", fa),
      faCount,
      field("sms_template_en", en),
      enCount,
      variables,
      h("p", { class: "form-error", role: "alert" }),
      this.admin ? h("p", { class: "actions" }, save) : null,
      status,
    );
    for (const control of [enabled, fa, en]) control.disabled = !this.admin;
    form.refreshText = () => {
      form.querySelector("h4").textContent = t(`sms_trigger_${trigger.trigger}`);
      const list = (trigger.variables ?? []).map((v) => `{${v}}`).join(" ");
      variables.textContent = list ? t("sms_variables", { list }) : t("sms_no_variables");
      faCount.textContent = countText(fa.value).line;
      enCount.textContent = countText(en.value).line;
      applyLang(form);
    };
    fa.addEventListener("input", () => form.refreshText());
    en.addEventListener("input", () => form.refreshText());
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      save.disabled = true;
      status.textContent = "";
      try {
        const saved = await api(`/api/sms/triggers/${trigger.trigger}`, {
          method: "PUT",
          body: { enabled: enabled.checked, template_fa: fa.value, template_en: en.value },
        });
        Object.assign(trigger, saved);
        showFormErrors(form, null);
        status.textContent = t("sms_trigger_saved");
      } catch (err) {
        showFormErrors(form, err.error, errorText(err));
      } finally {
        save.disabled = false;
      }
    });
    form.refreshText();
    this.forms.set(trigger.trigger, form);
    return form;
  }

  optOutForm() {
    const number = h("input", { "data-field": "number", dir: "ltr", inputmode: "tel", autocomplete: "off" });
    const reason = h("input", { "data-field": "reason", maxlength: 200, autocomplete: "off" });
    const add = h("button", { type: "submit", "data-i18n": "sms_opt_out_add", text: t("sms_opt_out_add") });
    const status = h("p", { class: "muted", role: "status" });
    const form = h(
      "form",
      { class: "opt-out-form", novalidate: true },
      field("sms_opt_out_number", number),
      field("sms_opt_out_reason", reason),
      h("p", { class: "form-error", role: "alert" }),
      h("p", { class: "actions" }, add),
      status,
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      add.disabled = true;
      status.textContent = "";
      try {
        await api("/api/sms/opt-outs", {
          method: "POST",
          body: { number: number.value.trim(), reason: reason.value.trim() },
        });
        showFormErrors(form, null);
        number.value = "";
        reason.value = "";
        status.textContent = t("sms_opt_out_added");
        await this.refresh();
      } catch (err) {
        showFormErrors(form, err.error, errorText(err));
      } finally {
        add.disabled = false;
      }
    });
    return form;
  }

  async removeOptOut(number) {
    try {
      await api(`/api/sms/opt-outs/${encodeURIComponent(number)}`, { method: "DELETE" });
      this.problem.hidden = true;
    } catch (err) {
      this.problem.textContent = errorText(err);
      this.problem.hidden = false;
    }
    await this.refresh();
  }
}
