// Tracking codes as agents read them out and hear them quoted: 8 digits, the last a Damm
// check digit (as app/tracking/codes.py checks it), so a wrong digit or two neighbours
// swapped is caught while it is typed. Shown in two groups of four, in the panel's digits,
// with a button that copies the plain digits.

import { h } from "./dom.js";
import { digits, t } from "./i18n.js";

const LENGTH = 8;

// The Damm algorithm's table (the one python-stdnum uses): row = interim, column = digit.
const DAMM = [
  "0317598642",
  "7092154863",
  "4206871359",
  "1750983426",
  "6123045978",
  "3674209581",
  "5869720134",
  "8945362017",
  "9438617205",
  "2581436790",
];

const dammValid = (code) => [...code].reduce((interim, d) => Number(DAMM[interim][d]), 0) === 0;

/** The Latin digits of what was typed or pasted: Persian or Arabic digits, spaces, dashes. */
export function codeDigits(text) {
  return String(text ?? "")
    .trim()
    .replace(/[۰-۹]/g, (d) => String(d.charCodeAt(0) - 0x06f0))
    .replace(/[٠-٩]/g, (d) => String(d.charCodeAt(0) - 0x0660))
    .replace(/[\s\-_.]/g, "");
}

/** Why `text` is not a tracking code, as an i18n key (code_length, code_mistyped), or null. */
export function codeProblem(text) {
  const code = codeDigits(text);
  if (!/^\d+$/.test(code) || code.length !== LENGTH) return "code_length";
  return dammValid(code) ? null : "code_mistyped";
}

/** The problem worth saying while the agent is still typing: a full code that fails the check. */
export function typingProblem(text) {
  return codeDigits(text).length >= LENGTH ? codeProblem(text) : null;
}

/** "48302716" as it is read out: "4830 2716". */
export const groupedCode = (code) => `${code.slice(0, 4)} ${code.slice(4)}`;

/** The code in the panel's digits, grouped, kept left to right inside Persian text. */
export const codeText = (code, className = "code") =>
  h("span", { class: className, dir: "ltr", text: digits(groupedCode(code)) });

/**
 * A button that copies the code's plain digits (what other systems take), and a status
 * next to it that says it did; where the clipboard is refused, the code is selected for
 * Ctrl+C instead.
 */
export function copyButton(code, shown) {
  const status = h("span", { class: "copy-status muted", role: "status" });
  const button = h("button", {
    type: "button",
    class: "secondary copy",
    text: t("copy"),
    "aria-label": t("copy_code", { code: digits(groupedCode(code)) }),
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(code);
        status.textContent = t("copied");
      } catch {
        getSelection()?.selectAllChildren(shown);
        status.textContent = t("copy_select");
      }
    },
  });
  return [button, status];
}
