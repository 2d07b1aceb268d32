// Building the page from data without ever parsing it as HTML: every text goes in through
// textContent or a text node, so a customer named "<img onerror=...>" is just a name.

import { fieldText } from "./errors.js";

/**
 * h("p", {class: "x", text: "hello", onclick: fn, "aria-label": "..."}, child, ...)
 * Children are nodes, strings (as text), or null/false (skipped); arrays are flattened.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "text") el.textContent = String(value);
    else if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (name === "value") el.value = value;
    else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** The element with this id (the page's fixed parts). */
export const $ = (id) => document.getElementById(id);

/** Call fn at most once per `ms` of quiet (the search box). */
export function debounce(fn, ms) {
  let timer = null;
  const debounced = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
  debounced.cancel = () => clearTimeout(timer);
  return debounced;
}

/**
 * Show the API's field errors next to the form's inputs (each input names its API field
 * in data-field) and the rest in the form's error line. Returns nothing; clears old ones.
 */
export function showFormErrors(form, error, fallback) {
  for (const old of form.querySelectorAll(".field-error")) old.remove();
  for (const input of form.querySelectorAll("[aria-invalid]")) {
    input.removeAttribute("aria-invalid");
    if (input.dataset.hint) input.setAttribute("aria-describedby", input.dataset.hint);
    else input.removeAttribute("aria-describedby");
  }
  const line = form.querySelector(".form-error");
  const unplaced = [];
  for (const f of error?.fields ?? []) {
    const field = String(f.field).replace(/^body\./, "");
    const input = [...form.querySelectorAll("[data-field]")].find(
      (i) => field === i.dataset.field || field.startsWith(i.dataset.field + "."),
    );
    const message = fieldText(f, error);
    if (!input) {
      unplaced.push(message);
      continue;
    }
    const id = `${input.id}-error`;
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", [input.dataset.hint, id].filter(Boolean).join(" "));
    input.after(h("span", { class: "field-error", id, text: message }));
  }
  if (line) {
    const placed = (error?.fields ?? []).length - unplaced.length;
    line.textContent = error ? unplaced.join(" ") || (placed ? "" : fallback) : "";
  }
}

let uid = 0;
/** A unique id for pairing labels and inputs built at run time. */
export const newId = (prefix) => `${prefix}-${++uid}`;

/**
 * Parts of one line (strings or nodes, nulls skipped), each isolated so a Latin word or a
 * number in Persian text keeps its place, with `separator` between them.
 */
export function joined(parts, separator) {
  const out = [];
  for (const part of parts) {
    if (part === null || part === undefined || part === false || part === "") continue;
    if (out.length) out.push(separator);
    out.push(part instanceof Node ? part : h("bdi", { text: part }));
  }
  return out;
}
