// Days in the filter forms: written as the reader writes them (Jalali with Persian digits in
// Persian, ISO in English; the server takes both), rewritten when the language changes
// unless the reader typed them, and the presets people pick most (today, this week, this
// Jalali month).

import { centerZone } from "./api.js";
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

/**
 * Today in the call center's time zone (TAMAS_TIME_ZONE, which the server names at sign-in),
 * not the browser's: the day the history and the reports count in. A Date at noon, in the
 * browser's zone, of that calendar day.
 */
export function centerToday(now = new Date()) {
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone: centerZone(),
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
  }).formatToParts(now);
  const part = (type) => Number(parts.find((p) => p.type === type).value);
  return new Date(part("year"), part("month") - 1, part("day"), 12);
}

/** The first and last day of a preset: today, this week (from Saturday), this Jalali month. */
export function presetDays(preset, now = new Date()) {
  const today = centerToday(now);
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
