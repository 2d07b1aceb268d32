// What the ERP or website said about a caller (the pop enrichment, see the README's
// "Integrations"): labelled fields shown on the pop card and on the customer's card, kept
// per customer for this tab while it is open. `status`: ok, pending, late, failed.

import { h } from "./dom.js";
import { addStrings, digits, t } from "./i18n.js";

addStrings({
  fa: {
    enrichment_title: "از سامانه‌های دیگر",
    enrichment_pending: "در حال گرفتن اطلاعات از سامانه‌های دیگر…",
    enrichment_late: "اطلاعات سامانه‌های دیگر دیر رسید؛ اگر برسد همین‌جا نشان داده می‌شود.",
    enrichment_failed: "اطلاعات سامانه‌های دیگر در دسترس نیست.",
  },
  en: {
    enrichment_title: "From other systems",
    enrichment_pending: "Asking the other systems…",
    enrichment_late: "The other systems are late; their answer shows here if it comes.",
    enrichment_failed: "The other systems' data is not available.",
  },
});

const byCustomer = new Map(); // customer id -> the latest ok enrichment
const listeners = new Set();

/** The newer of two enrichments: an answer is never replaced by a pending or late mark. */
export function merged(before, after) {
  if (!after) return before;
  if (before?.status === "ok" && after.status !== "ok") return before;
  return after;
}

/** An answer for these customers (the pop's): kept, and the customer card told. */
export function remember(customers, enrichment) {
  if (enrichment?.status !== "ok") return;
  for (const c of customers ?? []) byCustomer.set(String(c.id), enrichment);
  for (const listener of listeners) listener();
}

export const enrichmentFor = (customerId) => byCustomer.get(String(customerId)) ?? null;

export function onRemembered(listener) {
  listeners.add(listener);
}

export function forgetEnrichments() {
  byCustomer.clear();
}

/** The fields as a list of label/value pairs, or a line saying why there are none. */
export function enrichmentBlock(enrichment) {
  if (!enrichment) return null;
  if (enrichment.status !== "ok") {
    return h("p", {
      class: `enrichment muted enrichment-${enrichment.status}`,
      "data-status": enrichment.status,
      text: t(`enrichment_${enrichment.status}`),
    });
  }
  if (!enrichment.fields?.length) return null;
  return h(
    "section",
    { class: "enrichment", "data-status": "ok" },
    h("h4", { text: t("enrichment_title") }),
    h(
      "dl",
      {},
      enrichment.fields.map((f) => [h("dt", { text: f.label }), h("dd", {}, h("bdi", { text: digits(f.value) }))]),
    ),
  );
}
