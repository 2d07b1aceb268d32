// The phonebook: search as you type (name, company or digits of a number), a page at a
// time, arrow keys between the results (Tab reaches each result's call button).

import { api } from "./api.js";
import { errorText, priorityBadge } from "./customers.js";
import { callButton } from "./dialling.js";
import { $, debounce, h } from "./dom.js";
import { digits, t } from "./i18n.js";

const SEARCH_PAGE = 20;

export class Phonebook {
  /** `onPick(id)` opens the customer chosen from the results. */
  constructor({ onPick }) {
    this.input = $("search");
    this.list = $("results");
    this.status = $("results-status");
    this.moreButton = $("results-more");
    this.onPick = onPick;
    this.items = [];
    this.nextCursor = null;
    this.query = "";
    this.request = null;
    const search = debounce(() => this.search(this.input.value.trim()), 250);
    this.input.addEventListener("input", search);
    $("search-form").addEventListener("submit", (event) => {
      event.preventDefault();
      search.cancel();
      this.search(this.input.value.trim());
    });
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "ArrowDown") {
        event.preventDefault();
        this.list.querySelector("button.result")?.focus();
      }
    });
    this.list.addEventListener("keydown", (event) => this.arrows(event));
    this.moreButton.addEventListener("click", () => this.more());
    document.addEventListener("langchange", () => this.render());
  }

  clear() {
    this.request?.abort();
    this.input.value = "";
    this.items = [];
    this.nextCursor = null;
    this.query = "";
    this.render();
  }

  async search(query) {
    this.query = query;
    this.items = [];
    this.nextCursor = null;
    if (!query) {
      this.request?.abort();
      this.render();
      return;
    }
    await this.load(query, null);
  }

  async more() {
    if (this.nextCursor) await this.load(this.query, this.nextCursor);
  }

  async load(query, cursor) {
    this.request?.abort();
    const request = new AbortController();
    this.request = request;
    const params = new URLSearchParams({ q: query, limit: String(SEARCH_PAGE) });
    if (cursor) params.set("cursor", cursor);
    this.list.setAttribute("aria-busy", "true");
    try {
      const page = await api(`/api/customers?${params}`, { signal: request.signal });
      this.items = cursor ? this.items.concat(page.items) : page.items;
      this.nextCursor = page.next_cursor;
      this.render();
    } catch (err) {
      if (err.name === "AbortError") return;
      this.status.textContent = errorText(err);
    } finally {
      if (this.request === request) this.list.removeAttribute("aria-busy");
    }
  }

  render() {
    this.list.replaceChildren(
      ...this.items.map((c) =>
        h(
          "li",
          { class: "result-row" },
          h(
            "button",
            { type: "button", class: "result", onclick: () => this.onPick(c.id) },
            h("span", { class: "result-name", text: c.name }),
            priorityBadge(c.priority),
            c.company ? h("span", { class: "muted", text: c.company }) : null,
          ),
          c.phones[0]
            ? callButton({ number: c.phones[0].number, e164: c.phones[0].e164, customer: c })
            : null,
        ),
      ),
    );
    this.moreButton.hidden = !this.nextCursor;
    const n = digits(String(this.items.length));
    this.status.textContent = !this.query
      ? t("search_hint")
      : !this.items.length
        ? t("no_results")
        : this.nextCursor
          ? t("results_more", { n })
          : this.items.length === 1
            ? t("results_one")
            : t("results", { n });
  }

  arrows(event) {
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
    const buttons = [...this.list.querySelectorAll("button.result")];
    // From a call button too: the row it is in.
    const row = document.activeElement?.closest("li");
    const at = buttons.indexOf(row?.querySelector("button.result"));
    if (at < 0) return;
    event.preventDefault();
    const next = at + (event.key === "ArrowDown" ? 1 : -1);
    if (next < 0) this.input.focus();
    else buttons[Math.min(next, buttons.length - 1)].focus();
  }

  /** A customer changed elsewhere (edited, created): refresh its row if shown. */
  update(customer) {
    const at = this.items.findIndex((c) => c.id === customer.id);
    if (at >= 0) {
      this.items[at] = customer;
      this.render();
    }
  }
}
