// A supervisor's review of the agent's call, as it arrives on /ws/pops ({type: "review",
// call_id, review_id, score, comment, by, started_at, number}): a notice at the top of the
// panel until the agent dismisses it, said aloud, and the review kept with the call so the
// customer card's history shows it on that call's row.

import { api } from "./api.js";
import { reviewList } from "./callview.js";
import { errorText, numberText } from "./customers.js";
import { $, h } from "./dom.js";
import { digits, t, timeElement } from "./i18n.js";

export class Reviews {
  /** `openCustomer(id)` shows the reviewed call's customer; `onChange()` after one came. */
  constructor({ openCustomer, onChange }) {
    this.list = $("review-notices");
    this.openCustomer = openCustomer;
    this.onChange = onChange;
    this.byCall = new Map(); // call id -> reviews as the API gives them
    this.shown = new Set(); // review ids with a notice up
    this.notices = []; // {message, problem}
    document.addEventListener("langchange", () => this.render());
  }

  /**
   * The reviews not yet dismissed (given while the agent was signed out, too): shown as
   * the live ones are. Signed in: once per sign-in.
   */
  async start() {
    try {
      const unread = await api("/api/reviews/unread");
      for (const review of unread) this.handle(review, { quiet: true });
      if (unread.length) {
        $("announcer").textContent = t("reviews_unread", { n: digits(unread.length) });
      }
    } catch {
      // The live ones still come; the unread list is asked for again at the next sign-in.
    }
  }

  /** A "review" message from the socket (or an unread review, `quiet`: not said aloud). */
  handle(message, { quiet = false } = {}) {
    if (this.shown.has(message.review_id)) return;
    this.shown.add(message.review_id);
    const review = {
      id: message.review_id,
      call_id: message.call_id,
      score: message.score,
      comment: message.comment,
      by: message.by,
      created_at: new Date().toISOString(),
    };
    this.byCall.set(message.call_id, [...(this.byCall.get(message.call_id) ?? []), review]);
    this.notices.push({ message, problem: "" });
    this.render();
    if (!quiet) {
      $("announcer").textContent = t("review_arrived", { by: message.by, score: digits(message.score) });
    }
    this.onChange();
  }

  /** The reviews of a call this panel has seen, as a cell of the customer card's row. */
  cell(call) {
    const reviews = this.byCall.get(call.id);
    if (!reviews?.length) return null;
    return h("td", { class: "recordings call-reviews" }, h("span", { class: "muted", text: t("reviews") }), reviewList(reviews));
  }

  render() {
    this.list.hidden = !this.notices.length;
    this.list.replaceChildren(
      ...this.notices.map((notice) => {
        const m = notice.message;
        return h(
          "li",
          { class: "review-notice", "data-review": m.review_id },
          h("strong", { text: t("review_notice", { by: m.by }) }),
          " ",
          h("span", { class: "badge score", text: t("score_of", { n: digits(m.score) }) }),
          " ",
          h("span", { class: "muted" }, t("review_on_call"), " ", m.number ? numberText(m.number_display || m.number) : null, " ", timeElement(m.started_at)),
          m.comment ? h("p", { class: "review-comment", text: m.comment }) : null,
          h(
            "p",
            { class: "actions" },
            h("button", { type: "button", class: "secondary small", text: t("review_show_call"), onclick: () => this.showCall(notice) }),
            h("button", { type: "button", class: "secondary small", text: t("dismiss"), onclick: () => this.dismiss(notice) }),
          ),
          notice.problem ? h("p", { class: "error", role: "alert", text: notice.problem }) : null,
        );
      }),
    );
  }

  async showCall(notice) {
    try {
      const call = await api(`/api/calls/${notice.message.call_id}`);
      this.byCall.set(call.id, await api(`/api/calls/${call.id}/reviews`));
      notice.problem = call.customer_ids.length ? "" : t("review_no_customer");
      if (call.customer_ids.length) this.openCustomer(call.customer_ids[0]);
    } catch (err) {
      notice.problem = errorText(err);
    }
    this.render();
  }

  /** Read: it is not shown again, at this sign-in or the next. */
  async dismiss(notice) {
    try {
      await api(`/api/reviews/${notice.message.review_id}/seen`, { method: "POST" });
    } catch (err) {
      notice.problem = errorText(err);
      this.render();
      return;
    }
    this.notices = this.notices.filter((n) => n !== notice);
    this.render();
    if (!this.notices.length) $("pops-h").focus();
  }

  clear() {
    this.byCall.clear();
    this.shown.clear();
    this.notices = [];
    this.render();
  }
}
