// Click-to-call: the "call" button beside every number the panel shows, and the request that
// places the call (POST /api/originations). The call's card (pops.js) shows its progress from
// the moment of the click; this module asks and reports refusals to it.

import { ApiError, api } from "./api.js";
import { h } from "./dom.js";
import { serverText } from "./errors.js";
import { digits, t } from "./i18n.js";

let board = null; // the PopBoard that shows the call's card
let pending = false; // one request at a time: a second click waits for the first answer

/** The pop board that shows placed calls (set once by panel.js). */
export function dialInto(popBoard) {
  board = popBoard;
}

/**
 * An Iranian number as people read it (0912 123 4567, 021 8877 6655), from its E.164 form;
 * other numbers as they were written.
 */
export function readableNumber(number, e164) {
  const found = /^\+98(\d{10})$/.exec(e164 || "");
  if (!found) return number || e164 || "";
  const n = `0${found[1]}`;
  return n[1] === "9"
    ? `${n.slice(0, 4)} ${n.slice(4, 7)} ${n.slice(7)}`
    : `${n.slice(0, 3)} ${n.slice(3, 7)} ${n.slice(7)}`;
}

/**
 * A button that calls `number` (`e164` when known is what is sent); `customer` is who is
 * being called, when known. The button shows the number, or `text` when given (the number
 * is then only in its accessible name); `callbackId`: the callback this call makes.
 */
export function callButton({ number, e164 = null, customer = null, text = null, confirm = false, callbackId = null }) {
  const display = readableNumber(number, e164);
  const button = h(
    "button",
    {
      type: "button",
      class: text ? "call call-labelled" : "call",
      "aria-label": t("call_number", { number: digits(display) }),
      "aria-disabled": pending ? "true" : null,
      onclick: () => dial({ number: e164 || number, display, e164, customer, confirm, callbackId }),
    },
    h("span", { class: "call-icon", "aria-hidden": "true", text: "☎" }),
    text ? h("span", { text }) : h("span", { class: "number", dir: "ltr", text: digits(display) }),
  );
  return button;
}

/**
 * Place the call. The server refuses a second call while one is under way (409): the
 * card says so and offers to place it anyway (`confirm`).
 */
async function dial({ number, display, e164, customer, confirm = false, callbackId }) {
  if (pending || !board) return;
  setPending(true);
  const card = board.requested({ display, e164, customer });
  try {
    const body = { number };
    if (customer?.id) body.customer_id = customer.id;
    if (confirm) body.confirm = true;
    // The callback this call makes: claimed, and the call recorded as one of its tries.
    if (callbackId) body.callback_id = callbackId;
    const origination = await api("/api/originations", { method: "POST", body });
    board.accepted(card, origination);
  } catch (err) {
    board.refused(card, refusal(err));
  } finally {
    setPending(false);
  }
}

// aria-disabled, not disabled: a button the agent just pressed keeps the keyboard focus.
function setPending(value) {
  pending = value;
  for (const button of document.querySelectorAll("button.call")) {
    if (value) button.setAttribute("aria-disabled", "true");
    else button.removeAttribute("aria-disabled");
  }
}

/** What the server said, kept as data so the card can say it again in another language. */
function refusal(err) {
  if (!(err instanceof ApiError)) return { status: -1, code: "", message: "", retryAfter: null };
  return {
    status: err.status,
    code: err.error?.code || "",
    message: err.error?.message || "",
    retryAfter: err.retryAfter,
  };
}

/** Why the PBX was not even asked (a `refusal`), in the panel's language. */
export function refusalText({ status, code, message, retryAfter }) {
  switch (status) {
    case 409:
      return t(code === "on_a_call" ? "dial_on_a_call" : "dial_pending");
    case 0:
      return t("network_error");
    case 422:
      return message ? t("dial_refused", { message: serverText({ code, message }, 422) }) : t("request_failed");
    case 429:
      return t("dial_wait", { s: digits(retryAfter ?? "60") });
    case 403:
      return t("dial_not_yours");
    case 503:
      return t("dial_no_pbx");
    case 502:
      return t("dial_pbx_refused", { message });
    default:
      return serverText({ code, message }, status);
  }
}
