// Days in the filter forms: written as the reader writes them (Jalali with Persian digits in
// Persian, ISO in English; the server takes both), rewritten when the language changes
// unless the reader typed them, and the presets people pick most (today, this week, this
// Jalali month).

import { currentLang, digits } from "./i18n.js";

const DAY_MS = 86_400_000;

/** A day as the reader writes it: Jalali (Persian digits) in Persian, ISO in English. */
export function dayText(date) {
  if (currentLang() === "fa") {
    const parts = new Intl.DateTimeFormat("en-u-ca-persian-nu-latn", {
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
    }).formatToParts(date);
    const part = (type) => parts.find((p) => p.type === type).value;
    return digits(`${part("year")}-${part("month")}-${part("day")}`);
  }
  const local = new Date(date.getTime() - date.getTimezoneOffset() * 60_000);
  return local.toISOString().slice(0, 10);
}

/** Put `date` in a day input; it follows the language until the reader types in it. */
export function setDay(input, date) {
  input.value = dayText(date);
  input.dataset.day = String(date.getTime());
  input.dataset.shown = input.value;
}

/** The day inputs under `root` the reader has not typed in, in the current language. */
export function relabelDays(root) {
  for (const input of root.querySelectorAll("input[data-day]")) {
    if (input.value !== input.dataset.shown) continue;
    setDay(input, new Date(Number(input.dataset.day)));
  }
}

/** The first and last day of a preset: today, this week (from Saturday), this Jalali month. */
export function presetDays(preset, now = new Date()) {
  const today = new Date(now.getFullYear(), now.getMonth(), now.getDate(), 12);
  if (preset === "this_week") {
    const back = (today.getDay() + 1) % 7; // Saturday 0 ... Friday 6
    return [new Date(today.getTime() - back * DAY_MS), today];
  }
  if (preset === "this_month") {
    const day = Number(
      new Intl.DateTimeFormat("en-u-ca-persian-nu-latn", { day: "numeric" }).format(today),
    );
    return [new Date(today.getTime() - (day - 1) * DAY_MS), today];
  }
  return [today, today];
}

export const PRESETS = ["today", "this_week", "this_month"];
