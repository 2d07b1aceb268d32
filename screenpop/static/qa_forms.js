// The admins' QA forms view over /api/supervision/qa/forms: every form (in use, retired,
// and the built-in call score, which cannot be changed) with edit and retire, and an
// editor to make a form or change one: its name and description, sections, and in each
// its questions (text, yes/no or 1 to 5, weight, critical). What is missing or wrong is
// said next to its input before anything is sent, in the reader's language; what the API
// refuses is placed the same way (each input names its API field in data-field). A review
// keeps a copy of the form it was made with, so a change alters no score already given.

import { api } from "./api.js";
import { errorText, field } from "./customers.js";
import { h, newId, showFormErrors } from "./dom.js";
import { addStrings, applyLang, digits, formatCount, t } from "./i18n.js";

addStrings({
  fa: {
    qaf_title: "فرم‌های ارزیابی کیفیت",
    qaf_intro:
      "هر فرم بخش‌هایی از پرسش‌هاست: بله/خیر یا ۱ تا ۵، هر کدام با وزن؛ پرسش حیاتی اگر «خیر» یا ۱ پاسخ داده شود کل ارزیابی را مردود می‌کند. ارزیابی‌های ثبت‌شده پرسش‌های زمان خود را نگه می‌دارند.",
    qaf_forms: "فرم‌ها",
    qaf_none: "هنوز فرمی نیست.",
    qaf_col_name: "نام",
    qaf_col_questions: "پرسش‌ها",
    qaf_col_state: "وضعیت",
    qaf_col_actions: "کارها",
    qaf_in_use: "در حال استفاده",
    qaf_retired: "کنار گذاشته",
    qaf_built_in: "فرم پیش‌فرض (تغییرناپذیر)",
    qaf_edit: "ویرایش",
    qaf_edit_named: "ویرایش {name}",
    qaf_retire: "کنار بگذار",
    qaf_retire_named: "کنار گذاشتن {name}",
    qaf_reuse: "دوباره به کار بگیر",
    qaf_reuse_named: "به کار گرفتن دوباره {name}",
    qaf_new: "فرم تازه",
    qaf_editing: "ویرایش فرم «{name}»",
    qaf_description: "توضیح فرم",
    qaf_remove_section: "حذف این بخش",
    qaf_remove_question: "حذف این پرسش",
    qaf_saved: "فرم «{name}» ذخیره شد.",
    qaf_retired_done: "فرم «{name}» کنار گذاشته شد.",
    qaf_reused_done: "فرم «{name}» دوباره به کار گرفته شد.",
    qaf_fix: "فرم ذخیره نشد: موارد نشان‌داده‌شده را درست کنید.",
    qaf_need_name: "نام فرم را بنویسید.",
    qaf_need_title: "عنوان بخش را بنویسید.",
    qaf_need_text: "متن پرسش را بنویسید.",
    qaf_bad_weight: "وزن باید عددی بزرگ‌تر از صفر و حداکثر ۱۰۰ باشد.",
    error_built_in_form: "فرم پیش‌فرض تغییر نمی‌کند.",
    error_greater_than: "باید بیشتر از حد کمینه باشد.",
    error_too_short: "دست‌کم یک مورد لازم است.",
    error_too_long: "بیش از اندازه است.",
  },
  en: {
    qaf_title: "QA review forms",
    qaf_intro:
      "A form is sections of questions, yes/no or 1 to 5, each with a weight; a critical question answered no (or 1) fails the whole review. Reviews already made keep the questions they were made with.",
    qaf_forms: "Forms",
    qaf_none: "No forms yet.",
    qaf_col_name: "Name",
    qaf_col_questions: "Questions",
    qaf_col_state: "State",
    qaf_col_actions: "Actions",
    qaf_in_use: "in use",
    qaf_retired: "retired",
    qaf_built_in: "built-in (cannot be changed)",
    qaf_edit: "Edit",
    qaf_edit_named: "Edit {name}",
    qaf_retire: "Retire",
    qaf_retire_named: "Retire {name}",
    qaf_reuse: "Use again",
    qaf_reuse_named: "Use {name} again",
    qaf_new: "New form",
    qaf_editing: "Editing “{name}”",
    qaf_description: "Description",
    qaf_remove_section: "Remove this section",
    qaf_remove_question: "Remove this question",
    qaf_saved: "Form “{name}” saved.",
    qaf_retired_done: "Form “{name}” retired.",
    qaf_reused_done: "Form “{name}” is in use again.",
    qaf_fix: "The form was not saved: correct what is marked.",
    qaf_need_name: "Give the form a name.",
    qaf_need_title: "Give the section a title.",
    qaf_need_text: "Write the question.",
    qaf_bad_weight: "The weight must be a number above 0 and at most 100.",
    error_built_in_form: "The built-in form cannot be changed.",
  },
});

/** A number as typed, in Persian, Arabic or Latin digits, with either decimal mark. */
function number(text) {
  const latin = String(text)
    .trim()
    .replace(/[۰-۹]/g, (d) => String("۰۱۲۳۴۵۶۷۸۹".indexOf(d)))
    .replace(/[٠-٩]/g, (d) => String("٠١٢٣٤٥٦٧٨٩".indexOf(d)))
    .replace(/[٫/]/g, ".");
  return latin === "" || !/^\d*\.?\d*$/.test(latin) ? NaN : Number(latin);
}

const questionCount = (form) => form.sections.reduce((n, s) => n + s.questions.length, 0);

export class View {
  constructor() {
    this.forms = [];
    this.editing = null; // the form being changed; null: a new one
    const headingId = newId("qaf-h");
    this.heading = h("h2", { id: headingId, tabindex: -1, "data-i18n": "qaf_title" });
    this.status = h("p", { class: "muted", role: "status" });
    this.list = h("div", { class: "qa-forms-list" });
    this.editorHeading = h("h3", { id: newId("qaf-ed"), tabindex: -1 });
    this.editor = h("div", { class: "qa-editor-box" });
    const listId = newId("qaf-list");
    this.el = h(
      "section",
      { class: "view qa-forms-view", "aria-labelledby": headingId },
      this.heading,
      h("p", { class: "hint", "data-i18n": "qaf_intro" }),
      h(
        "section",
        { class: "pane", "aria-labelledby": listId },
        h("h3", { id: listId, "data-i18n": "qaf_forms" }),
        this.status,
        this.list,
        h("p", { class: "actions" }, h("button", { type: "button", "data-i18n": "qaf_new", onclick: () => this.edit(null, true) })),
      ),
      h("section", { class: "pane", "aria-labelledby": this.editorHeading.id }, this.editorHeading, this.editor),
    );
    applyLang(this.el);
    this.edit(null);
    document.addEventListener("langchange", () => {
      applyLang(this.el);
      this.renderList();
      this.renderHeading();
      this.renumber?.();
    });
  }

  async show() {
    if (this.loaded) return;
    this.loaded = true;
    await this.load();
  }

  hide() {}

  destroy() {}

  async load() {
    try {
      this.forms = await api("/api/supervision/qa/forms?all=true");
      this.renderList();
    } catch (err) {
      this.status.textContent = errorText(err);
    }
  }

  renderList() {
    this.list.replaceChildren(
      this.forms.length
        ? h(
            "table",
            { class: "calls-table qa-forms" },
            h("thead", {}, h("tr", {}, ["qaf_col_name", "qaf_col_questions", "qaf_col_state"].map((k) => h("th", { scope: "col", text: t(k) })), h("th", { scope: "col" }, h("span", { class: "visually-hidden", text: t("qaf_col_actions") })))),
            h("tbody", {}, this.forms.map((f) => this.row(f))),
          )
        : h("p", { class: "muted", text: t("qaf_none") }),
    );
  }

  row(f) {
    const state = f.key ? "qaf_built_in" : f.is_active ? "qaf_in_use" : "qaf_retired";
    return h(
      "tr",
      { "data-form": f.id, "data-active": String(f.is_active) },
      h("th", { scope: "row" }, h("bdi", { text: f.name })),
      h("td", { text: formatCount(questionCount(f)) }),
      h("td", { text: t(state) }),
      h(
        "td",
        { class: "form-actions" },
        f.key
          ? null
          : [
              h("button", { type: "button", class: "secondary small", text: t("qaf_edit"), "aria-label": t("qaf_edit_named", { name: f.name }), onclick: () => this.edit(f, true) }),
              " ",
              h("button", {
                type: "button",
                class: "secondary small",
                text: t(f.is_active ? "qaf_retire" : "qaf_reuse"),
                "aria-label": t(f.is_active ? "qaf_retire_named" : "qaf_reuse_named", { name: f.name }),
                onclick: () => this.setActive(f, !f.is_active),
              }),
            ],
      ),
    );
  }

  async setActive(f, active) {
    const body = { name: f.name, description: f.description, sections: f.sections, is_active: active };
    try {
      const saved = await api(`/api/supervision/qa/forms/${f.id}`, { method: "PUT", body });
      this.status.textContent = t(active ? "qaf_reused_done" : "qaf_retired_done", { name: saved.name });
      await this.load();
    } catch (err) {
      this.status.textContent = errorText(err);
    }
  }

  renderHeading() {
    this.editorHeading.textContent = this.editing ? t("qaf_editing", { name: this.editing.name }) : t("qa_new_form");
  }

  /** The editor, empty (a new form) or holding ``form``; ``focus``: move there. */
  edit(form, focus = false) {
    this.editing = form;
    this.renderHeading();
    const name = h("input", { name: "name", "data-field": "name", maxlength: 200, value: form?.name ?? "" });
    const description = h("textarea", { name: "description", "data-field": "description", rows: 2, maxlength: 2000 });
    description.value = form?.description ?? "";
    const sections = h("div", { class: "qa-builder-sections" });
    const status = h("p", { class: "muted", role: "status" });
    const renumber = () => {
      [...sections.children].forEach((sec, i) => {
        sec.querySelector(":scope > legend").textContent = t("qa_section_n", { n: digits(i + 1) });
        sec.querySelector('[data-s="title"]').dataset.field = `sections.${i}.title`;
        sec.querySelector(".remove-section").hidden = sections.children.length < 2;
        const questions = [...sec.querySelectorAll(".qa-builder-question")];
        questions.forEach((q, j) => {
          q.querySelector("legend").textContent = t("qa_question_n", { n: digits(j + 1) });
          for (const input of q.querySelectorAll("[data-q]")) input.dataset.field = `sections.${i}.questions.${j}.${input.dataset.q}`;
          q.querySelector(".remove-question").hidden = questions.length < 2;
        });
      });
    };
    const addQuestion = (list, q = null) => {
      const kind = h("select", { "data-q": "kind" }, h("option", { value: "yes_no", "data-i18n": "qa_kind_yes_no", text: t("qa_kind_yes_no") }), h("option", { value: "scale", "data-i18n": "qa_kind_scale", text: t("qa_kind_scale") }));
      kind.value = q?.kind ?? "yes_no";
      const critical = h("input", { type: "checkbox", "data-q": "critical" });
      critical.checked = Boolean(q?.critical);
      const row = h(
        "fieldset",
        { class: "qa-builder-question", "data-key": q?.key ?? "" },
        h("legend", {}),
        field("qa_question_text", h("input", { "data-q": "text", maxlength: 500, value: q?.text ?? "" })),
        field("qa_question_kind", kind),
        field("qa_question_weight", h("input", { "data-q": "weight", inputmode: "decimal", dir: "ltr", value: q ? digits(q.weight) : digits(1) })),
        h("p", { class: "field check" }, h("label", {}, critical, " ", h("span", { "data-i18n": "qa_question_critical", text: t("qa_question_critical") }))),
        h("button", {
          type: "button",
          class: "secondary small remove-question",
          "data-i18n": "qaf_remove_question", text: t("qaf_remove_question"),
          onclick: () => {
            row.remove();
            renumber();
          },
        }),
      );
      list.append(row);
      return row;
    };
    const addSection = (s = null) => {
      const questions = h("div", { class: "qa-builder-questions" });
      const section = h(
        "fieldset",
        { class: "qa-builder-section" },
        h("legend", {}),
        field("qa_section_title", h("input", { "data-s": "title", maxlength: 200, value: s?.title ?? "" })),
        questions,
        h(
          "p",
          { class: "actions" },
          h("button", {
            type: "button",
            class: "secondary small",
            "data-i18n": "qa_add_question", text: t("qa_add_question"),
            onclick: () => {
              const row = addQuestion(questions);
              renumber();
              row.querySelector('[data-q="text"]').focus();
            },
          }),
          " ",
          h("button", {
            type: "button",
            class: "secondary small remove-section",
            "data-i18n": "qaf_remove_section", text: t("qaf_remove_section"),
            onclick: () => {
              section.remove();
              renumber();
            },
          }),
        ),
      );
      sections.append(section);
      for (const q of s?.questions ?? [null]) addQuestion(questions, q);
      return section;
    };
    const el = h(
      "form",
      { class: "qa-builder", novalidate: true, onsubmit: (event) => (event.preventDefault(), this.save(el, name, description, sections, status)) },
      field("qa_form_name", name),
      field("qaf_description", description),
      sections,
      h(
        "p",
        { class: "actions" },
        h("button", {
          type: "button",
          class: "secondary",
          "data-i18n": "qa_add_section", text: t("qa_add_section"),
          onclick: () => {
            const section = addSection();
            renumber();
            section.querySelector('[data-s="title"]').focus();
          },
        }),
        " ",
        h("button", { type: "submit", "data-i18n": "qa_save_form", text: t("qa_save_form") }),
      ),
      h("p", { class: "form-error", role: "alert" }),
      status,
    );
    for (const s of form?.sections ?? [null]) addSection(s);
    renumber();
    this.renumber = renumber;
    this.editor.replaceChildren(el);
    if (focus) this.editorHeading.focus();
  }

  /** What the editor holds, as the API takes it, and what is wrong with it (by field). */
  collect(name, description, sections) {
    const problems = [];
    const keys = new Set([...sections.querySelectorAll(".qa-builder-question")].map((q) => q.dataset.key).filter(Boolean));
    let n = 0;
    const freshKey = () => {
      do n += 1;
      while (keys.has(`q${n}`));
      keys.add(`q${n}`);
      return `q${n}`;
    };
    if (!name.value.trim()) problems.push({ field: "name", message: t("qaf_need_name") });
    const body = {
      name: name.value.trim(),
      description: description.value.trim(),
      sections: [...sections.children].map((sec, i) => {
        const title = sec.querySelector('[data-s="title"]').value.trim();
        if (!title) problems.push({ field: `sections.${i}.title`, message: t("qaf_need_title") });
        return {
          title,
          questions: [...sec.querySelectorAll(".qa-builder-question")].map((q, j) => {
            const at = `sections.${i}.questions.${j}`;
            const text = q.querySelector('[data-q="text"]').value.trim();
            if (!text) problems.push({ field: `${at}.text`, message: t("qaf_need_text") });
            const weight = number(q.querySelector('[data-q="weight"]').value);
            if (!(weight > 0 && weight <= 100)) problems.push({ field: `${at}.weight`, message: t("qaf_bad_weight") });
            q.dataset.key ||= freshKey();
            return {
              key: q.dataset.key,
              text,
              kind: q.querySelector('[data-q="kind"]').value,
              weight: Number.isFinite(weight) ? weight : 0,
              critical: q.querySelector('[data-q="critical"]').checked,
            };
          }),
        };
      }),
    };
    return { body, problems };
  }

  async save(form, name, description, sections, status) {
    status.textContent = "";
    const { body, problems } = this.collect(name, description, sections);
    const line = form.querySelector(".form-error");
    if (problems.length) {
      showFormErrors(form, { fields: problems });
      line.textContent = t("qaf_fix");
      form.querySelector('[aria-invalid="true"]')?.focus();
      return;
    }
    const editing = this.editing;
    try {
      const saved = editing
        ? await api(`/api/supervision/qa/forms/${editing.id}`, { method: "PUT", body: { ...body, is_active: editing.is_active } })
        : await api("/api/supervision/qa/forms", { method: "POST", body });
      showFormErrors(form, null);
      this.editing = saved;
      this.renderHeading();
      status.textContent = t("qaf_saved", { name: saved.name });
      await this.load();
    } catch (err) {
      const error = err?.error ? { ...err.error, fields: (err.error.fields ?? []).map((f) => ({ ...f, field: String(f.field).replace(/^body\./, "") })) } : null;
      showFormErrors(form, error, errorText(err));
      if (error?.fields?.length && !line.textContent) line.textContent = t("qaf_fix");
    }
  }
}
