// One call opened from the history: its facts, a timeline (entered the queue, whose phones
// rang and how each ended, who answered, transfers, hold, the end), every channel (leg),
// tracking codes, notes, disposition, the recordings (recordings.js's player), and the
// supervisors' reviews; supervisors leave one here, which the agent sees at once.

import { api } from "./api.js";
import { codeText } from "./codes.js";
import { directionText, errorText, extensionOf, field, numberText, outcomeText } from "./customers.js";
import { h, joined, newId, showFormErrors } from "./dom.js";
import { applyLang, digits, dispositionText, duration, formatCount, t, timeElement } from "./i18n.js";
import { causeText, dialText, whoText } from "./hangup.js";
import { Player } from "./recordings.js";

const SCORES = [5, 4, 3, 2, 1];

/** The call's number in the one display form (the server's number_display). */
const number = (call) => call.number_display || call.customer_number || call.caller_number;

const epoch = (seconds) => new Date(seconds * 1000).toISOString();

/** The caller's post-call survey answers: each question's score of 5, and by what way. */
function surveyList(answers) {
  return h(
    "ul",
    { class: "survey-answers" },
    [...answers]
      .sort((a, b) => a.question - b.question)
      .map((a) =>
        h(
          "li",
          { "data-question": a.question, "data-score": a.score },
          t(`survey_q${a.question}`),
          " ",
          h("strong", { text: t("survey_score", { n: digits(a.score) }) }),
          " ",
          h("span", { class: "muted", text: t(`survey_by_${a.channel}`) }),
        ),
      ),
  );
}

export class CallView {
  /**
   * `names` (user id -> name) names agents; `openCustomer(id)` opens the call's customer in
   * the panel; `onChanged(call)` after something about the call was saved.
   */
  constructor({ supervisor, names, openCustomer, onChanged }) {
    Object.assign(this, { supervisor, names, openCustomer, onChanged });
    this.callId = null;
    this.data = null;
    this.loading = null;
    this.players = new Map();
    const headingId = newId("call-h");
    this.heading = h("h3", { id: headingId, tabindex: -1, "data-i18n": "call_view" });
    this.body = h("div", {}, h("p", { class: "muted", "data-i18n": "call_view_empty" }));
    this.announcer = h("p", { class: "visually-hidden", role: "status" });
    this.el = h(
      "section",
      { class: "pane call-view", "aria-labelledby": headingId },
      this.heading,
      this.body,
      this.announcer,
    );
    applyLang(this.el);
    document.addEventListener("langchange", () => this.render());
  }

  async open(id) {
    // Until a call is opened, the list has the whole width (ux.css).
    this.el.parentElement?.classList.add("with-call");
    this.loading?.abort();
    const loading = new AbortController();
    this.loading = loading;
    if (this.callId !== id) this.dropPlayers();
    this.callId = id;
    this.body.setAttribute("aria-busy", "true");
    this.body.replaceChildren(h("p", { class: "muted", text: t("loading") }));
    const get = (path) => api(path, { signal: loading.signal });
    try {
      const [call, notes, reviews, codes, survey] = await Promise.all([
        get(`/api/calls/${id}`),
        get(`/api/calls/${id}/notes`),
        get(`/api/calls/${id}/reviews`),
        get(`/api/calls/${id}/tracking-codes`),
        get(`/api/calls/${id}/survey`),
      ]);
      this.data = { call, notes, reviews, codes, survey };
      this.render();
      // In view even when the list is long or the page is narrow (the view under the list).
      this.heading.focus({ preventScroll: true });
      this.el.scrollIntoView?.({ block: "start" });
    } catch (err) {
      if (err.name === "AbortError") return;
      this.data = null;
      this.body.replaceChildren(h("p", { class: "error", role: "alert", text: errorText(err) }));
    } finally {
      if (this.loading === loading) {
        this.loading = null;
        this.body.removeAttribute("aria-busy");
      }
    }
  }

  render() {
    if (!this.data) return;
    const { call, notes, reviews, codes, survey } = this.data;
    this.heading.textContent = t("call_of", { who: digits(number(call) || t("unknown_number")) });
    // replaceChildren takes nodes only: the optional parts (null) and pairs (arrays) go flat.
    const parts = [
      h("p", { class: "call-when" }, timeElement(call.started_at)),
      this.facts(call),
      call.customer_ids.length
        ? h("p", {}, h("button", {
            type: "button",
            class: "secondary small",
            text: t("open_customer"),
            onclick: () => this.openCustomer(call.customer_ids[0]),
          }))
        : null,
      codes.length
        ? [h("h4", { text: t("tracking_code") }), h("p", { class: "codes" }, codes.map((c) => codeText(c.code)))]
        : null,
      h("h4", { text: t("timeline") }),
      this.timeline(call),
      this.legs(call),
      h("h4", { text: t("recordings_title") }),
      this.recordings(call),
      h("h4", { text: t("notes") }),
      notes.length
        ? h("ul", { class: "note-list" }, notes.map((n) => h("li", {}, joined([timeElement(n.created_at), this.names.get(n.user_id), n.text], t("sep")))))
        : h("p", { class: "muted", text: t("no_notes") }),
      survey.length ? [h("h4", { text: t("survey_title") }), surveyList(survey)] : null,
      h("h4", { text: t("reviews") }),
      reviewList(reviews, this.names),
      this.supervisor ? this.reviewForm(call) : null,
      this.supervisor ? this.qaForm(call) : null,
    ];
    this.body.replaceChildren(...parts.flat().filter(Boolean));
  }

  facts(call) {
    const agent = this.names.get(call.answered_by_user_id) ?? (call.answered_by ? digits(extensionOf(call.answered_by)) : null);
    const rows = [
      ["direction", directionText(call.direction)],
      ["number", number(call) ? numberText(number(call)) : null],
      ["caller_id", call.caller_name],
      ["queue_label", call.queue],
      ["did", call.did ? numberText(call.did) : null],
      ["agent", agent],
      ["outcome", outcomeText(call.outcome)],
      ["missed_reason", call.missed_reason ? t(`reason_${call.missed_reason}`) : null],
      ["wait_col", duration(call.wait_seconds)],
      ["talk_time", duration(call.talk_seconds)],
      ["hold_time", call.hold_seconds ? duration(call.hold_seconds) : null],
      ["disposition", call.disposition ? dispositionText(call.disposition) : t("none")],
      ["ended_how", joined([call.hung_up_by ? t("hung_up_by", { who: whoText(call.hung_up_by) }) : null, causeText(call.hangup_cause, call.hangup_cause_text)], t("sep"))],
    ].filter(([, value]) => value !== null && value !== "" && !(Array.isArray(value) && !value.length));
    return h(
      "dl",
      { class: "facts" },
      rows.map(([key, value]) => [h("dt", { text: t(key) }), h("dd", {}, value)]),
    );
  }

  /** What happened, in time order. */
  timeline(call) {
    const events = [[call.started_at, t("tl_started", { dir: directionText(call.direction) })]];
    if (call.queue_joined_at) events.push([call.queue_joined_at, t("tl_queue", { queue: call.queue })]);
    for (const ring of call.rings) {
      const who = this.names.get(this.userOf(call, ring.device)) ?? ring.member_name ?? "";
      events.push([epoch(ring.at), t("tl_rang", { ext: digits(ring.extension || extensionOf(ring.device)), who })]);
      if (ring.ended_at && ring.result !== "answered") {
        events.push([epoch(ring.ended_at), t("tl_ring_end", { ext: digits(ring.extension || extensionOf(ring.device)), result: t(`ring_${ring.result}`) })]);
      }
    }
    if (call.answered_at) {
      const who = this.names.get(call.answered_by_user_id) ?? digits(extensionOf(call.answered_by));
      events.push([call.answered_at, t("tl_answered", { who })]);
    }
    for (const tr of call.transfers) {
      events.push([epoch(tr.at), t(`tl_transfer_${tr.kind}`, { from: digits(extensionOf(tr.from_device)), to: digits(tr.to) })]);
    }
    if (call.ended_at) {
      const held = call.hold_seconds ? t("tl_held", { d: duration(call.hold_seconds) }) : "";
      events.push([call.ended_at, [t("tl_ended"), held].filter(Boolean).join(t("sep"))]);
    }
    events.sort((a, b) => new Date(a[0]) - new Date(b[0]));
    return h("ol", { class: "timeline" }, events.map(([at, text]) => h("li", {}, timeElement(at), " ", h("span", { text }))));
  }

  userOf(call, device) {
    return call.legs.find((leg) => leg.device === device && leg.user_id)?.user_id;
  }

  /** Every channel of the call, for the supervisor who wants the detail. */
  legs(call) {
    if (!call.legs.length) return null;
    const cols = ["leg_device", "agent", "leg_created", "leg_answered", "leg_ended", "leg_status"];
    return h(
      "details",
      { class: "legs" },
      h("summary", { text: t("legs_title", { n: digits(call.legs.length) }) }),
      h(
        "table",
        { class: "calls-table" },
        h("thead", {}, h("tr", {}, cols.map((c) => h("th", { scope: "col", text: t(c) })))),
        h(
          "tbody",
          {},
          call.legs.map((leg) =>
            h(
              "tr",
              {},
              h("td", {}, h("span", { dir: "ltr", text: leg.device || leg.channel })),
              h("td", { text: this.names.get(leg.user_id) ?? "—" }),
              h("td", {}, timeElement(leg.created_at)),
              h("td", {}, leg.answered_at ? timeElement(leg.answered_at) : "—"),
              h("td", {}, leg.ended_at ? timeElement(leg.ended_at) : "—"),
              h("td", { text: [dialText(leg.dial_status), causeText(leg.hangup_cause, leg.hangup_cause_text)].filter(Boolean).join(t("sep")) || "—" }),
            ),
          ),
        ),
      ),
    );
  }

  recordings(call) {
    const files = call.recording_files ?? [];
    if (!files.length) return h("p", { class: "muted", text: t("no_recordings") });
    return h(
      "div",
      { class: "recordings" },
      files.map((file, index) => {
        let player = this.players.get(file.id);
        if (!player) {
          player = new Player({ onRefresh: () => this.refreshRecordings(call.id) });
          this.players.set(file.id, player);
        }
        player.update(file, index, files.length);
        return player.el;
      }),
    );
  }

  async refreshRecordings(callId) {
    const files = await api(`/api/calls/${callId}/recordings`);
    if (this.callId !== callId || !this.data) return;
    this.data.call.recording_files = files;
    this.render();
  }

  reviewForm(call) {
    const score = h("select", { name: "score", "data-field": "score" }, SCORES.map((s) => h("option", { value: s, text: t("score_n", { n: digits(s) }) })));
    const comment = h("textarea", { name: "comment", "data-field": "comment", rows: 3, maxlength: 2000 });
    const form = h(
      "form",
      {
        class: "review-form",
        novalidate: true,
        onsubmit: async (event) => {
          event.preventDefault();
          const button = form.querySelector("button");
          button.disabled = true;
          try {
            const review = await api(`/api/calls/${call.id}/reviews`, {
              method: "POST",
              body: { score: Number(score.value), comment: comment.value },
            });
            if (this.callId !== call.id) return;
            this.data.reviews.push(review);
            this.render();
            this.announcer.textContent = t(call.answered_by_user_id ? "review_sent" : "review_saved");
          } catch (err) {
            showFormErrors(form, err.error, errorText(err));
          } finally {
            button.disabled = false;
          }
        },
      },
      h("h4", { text: t("review_add") }),
      field("score", score),
      field("comment", comment),
      h("p", { class: "form-error", role: "alert" }),
      h("button", { type: "submit", text: t("review_submit") }),
    );
    applyLang(form);
    return form;
  }

  /** Review with a QA form while the recording above plays: kept across re-renders of the
   * view (a recording arriving), rebuilt only for another call. */
  qaForm(call) {
    if (this.qa?.callId === call.id) return this.qa.el;
    const box = h("section", { class: "qa-box" }, h("h4", { text: t("qa_review_with_form") }));
    this.qa = { callId: call.id, el: box };
    const picker = h("select", { name: "form", "aria-label": t("qa_form") }, h("option", { value: "", text: t("qa_pick_form") }));
    const questions = h("div", { class: "qa-questions" });
    const comment = h("textarea", { name: "comment", "data-field": "comment", rows: 3, maxlength: 4000 });
    const status = h("p", { class: "muted", role: "status" });
    let forms = [];
    const form = h(
      "form",
      {
        class: "qa-form",
        novalidate: true,
        onsubmit: async (event) => {
          event.preventDefault();
          const chosen = forms.find((f) => String(f.id) === picker.value);
          if (!chosen) return;
          const answers = {};
          for (const q of chosen.sections.flatMap((sec) => sec.questions)) {
            const el = form.elements[`q-${q.key}`];
            const v = el?.value ?? "";
            answers[q.key] = v === "" ? null : q.kind === "yes_no" ? v === "yes" : Number(v);
          }
          try {
            const made = await api("/api/supervision/qa/reviews", { method: "POST", body: { form_id: chosen.id, call_id: call.id, answers, comment: comment.value } });
            status.textContent = t(made.failed ? "qa_saved_failed" : "qa_saved", { n: formatCount(made.score) });
            showFormErrors(form, null);
            if (this.callId === call.id && this.data) {
              this.data.reviews = await api(`/api/calls/${call.id}/reviews`);
              this.render();
            }
          } catch (err) {
            showFormErrors(form, err.error, errorText(err));
          }
        },
      },
      field("qa_form", picker),
      questions,
      field("qa_note", comment),
      h("p", { class: "form-error", role: "alert" }),
      h("button", { type: "submit", text: t("qa_submit") }),
      status,
    );
    picker.addEventListener("change", () => {
      const chosen = forms.find((f) => String(f.id) === picker.value);
      questions.replaceChildren(...(chosen ? chosen.sections.map((sec) => qaSection(sec)) : []));
    });
    box.append(form);
    api("/api/supervision/qa/forms")
      .then((found) => {
        forms = found.filter((f) => !f.key);
        picker.append(...forms.map((f) => h("option", { value: f.id, text: f.name })));
      })
      .catch((err) => (status.textContent = errorText(err)));
    return box;
  }

  /** The view is hidden: nothing keeps playing. */
  pause() {
    for (const player of this.players.values()) if (player.source) player.pause();
  }

  dropPlayers() {
    for (const player of this.players.values()) player.dispose();
    this.players.clear();
  }

  destroy() {
    this.loading?.abort();
    this.dropPlayers();
  }
}

/** A form's section: each question with its answers (not applicable only when it is not
 * critical). */
function qaSection(section) {
  return h(
    "fieldset",
    { class: "qa-section" },
    h("legend", { text: section.title }),
    section.questions.map((q) => {
      const choices = q.kind === "yes_no" ? [["yes", t("qa_yes")], ["no", t("qa_no")]] : [1, 2, 3, 4, 5].map((n) => [String(n), digits(n)]);
      const select = h(
        "select",
        { name: `q-${q.key}`, "data-field": `answers.${q.key}` },
        h("option", { value: "", text: q.critical ? t("qa_choose") : t("qa_na") }),
        choices.map(([v, label]) => h("option", { value: v, text: label })),
      );
      const label = q.critical ? `${q.text} (${t("qa_critical")})` : q.text;
      select.id = newId("qa");
      return h("p", { class: "field" }, h("label", { for: select.id, text: label }), " ", select);
    }),
  );
}

/** Reviews of a call: score, who, when, the comment. */
export function reviewList(reviews, names = new Map()) {
  if (!reviews.length) return h("p", { class: "muted", text: t("no_reviews") });
  return h(
    "ul",
    { class: "review-list" },
    reviews.map((r) =>
      h(
        "li",
        { class: "review" },
        h("span", { class: "badge score", text: t("score_of", { n: digits(r.score) }) }),
        " ",
        r.percent !== undefined ? h("span", { class: "badge", text: t("pct", { n: formatCount(r.percent) }) }) : null,
        r.failed ? [" ", h("span", { class: "badge failed", text: t("qa_failed") })] : null,
        r.status && r.status !== "submitted" ? [" ", h("span", { class: "muted", text: t(`qa_status_${r.status}`) })] : null,
        " ",
        joined([names.get(r.reviewer_user_id) ?? r.by, timeElement(r.created_at)], t("sep")),
        r.comment ? h("p", { class: "review-comment", text: r.comment }) : null,
      ),
    ),
  );
}
