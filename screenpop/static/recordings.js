// A call's recordings: a small player per recording (play/pause, where it is, how long,
// download), or, when there is nothing to play, why not in words (not arrived yet, missing,
// deleted under the retention policy).
//
// An <audio src> cannot send the bearer token: the player asks the API for a short-lived
// signed address of the audio (same origin, as the panel's CSP wants) and plays from it.
// The browser fetches it by HTTP Range, so playing starts at once and a seek fetches only
// the part it needs, never the whole file first. An address that expired mid-listen (a long
// pause) is replaced by a new one, at the same position. The download is fetched with the
// token and handed to the browser as a file.

import { ApiError, api, apiBlob } from "./api.js";
import { h } from "./dom.js";
import { digits, duration, t } from "./i18n.js";

const TICK_MS = 250;
const UNAVAILABLE = {
  pending: "rec_pending",
  empty: "rec_empty",
  missing: "rec_missing",
  deleted: "rec_deleted",
};
// The download's object URL is kept this long after the click (the browser reads it first).
const DOWNLOAD_KEEP_MS = 60_000;

let playing = null; // the Player playing now: one at a time

/** The name of recording `index` (0-based) of `count`, alone or inside a sentence. */
function names(index, count) {
  const n = digits(index + 1);
  return count > 1
    ? {
        label: t("recording_of", { n, count: digits(count) }),
        inner: t("recording_of_in", { n, count: digits(count) }),
      }
    : { label: t("recording_one"), inner: t("recording_one_in") };
}

export class Player {
  /** `onRefresh()` asks the server again for this call's recordings (a pending one). */
  constructor({ onRefresh }) {
    this.onRefresh = onRefresh;
    this.el = h("div", { class: "recording", role: "group" });
    this.file = null;
    this.index = 0;
    this.count = 1;
    this.audio = null; // the <audio> element, from the first play
    this.expires = 0; // when its signed address expires (this browser's clock, ms)
    this.renewed = false; // the address was replaced after an error: once per failure
    this.loading = null; // the AbortController of the address being asked for
    this.problem = null; // why it could not be played, as an i18n key
    this.downloading = false;
    this.offset = 0; // the position before the first play, in seconds
    this.timer = null;
    this.parts = null;
  }

  /** Show `file` (a call's recording_files entry) as recording `index` of `count`. */
  update(file, index, count) {
    const rebuild = !this.parts || this.file?.state !== file.state;
    this.file = file;
    this.index = index;
    this.count = count;
    if (rebuild) this.build();
    this.show();
  }

  get available() {
    return this.file.state === "available";
  }

  get length() {
    const known = this.audio?.duration;
    return Number.isFinite(known) ? known : (this.file.duration_seconds ?? 0);
  }

  get isPlaying() {
    return Boolean(this.audio && !this.audio.paused && !this.audio.ended);
  }

  position() {
    if (!this.audio) return this.offset;
    return Math.min(this.length, Math.max(0, this.audio.currentTime));
  }

  build() {
    const focused = this.el.contains(document.activeElement);
    // The group's name says which recording and how long; this shows "1 of 2" to the eye.
    const label = h("span", { class: "rec-label", "aria-hidden": "true" });
    const hold = this.file.legal_hold ? h("span", { class: "badge rec-hold" }) : null;
    const head = h("span", { class: "rec-head" }, label, hold);
    const problem = h("span", { class: "error rec-problem", role: "alert" });
    if (this.available) {
      const play = h(
        "button",
        { type: "button", class: "rec-play", onclick: () => this.toggle() },
        h("span", { class: "rec-icon", "aria-hidden": "true" }),
      );
      const seek = h("input", {
        type: "range",
        class: "rec-seek",
        min: 0,
        step: 1,
        value: 0,
        oninput: () => this.seek(Number(seek.value)),
      });
      const at = h("span", { dir: "ltr" });
      const total = h("span", { dir: "ltr" });
      // In right-to-left text the position comes first from the right: "0:12 / 0:42" read
      // the Persian way.
      const time = h(
        "span",
        { class: "rec-time" },
        at,
        h("span", { "aria-hidden": "true", text: " / " }),
        total,
      );
      const download = h(
        "button",
        { type: "button", class: "secondary rec-download", onclick: () => this.download() },
        h("span", { class: "rec-down", "aria-hidden": "true", text: "↓" }),
      );
      this.parts = { head, label, hold, play, seek, at, total, download, problem };
      this.el.replaceChildren(head, play, seek, time, download, problem);
    } else {
      const state = h("span", { class: "rec-state muted", role: "status" });
      const check =
        this.file.state === "pending"
          ? h("button", { type: "button", class: "secondary rec-check", onclick: () => this.check() })
          : null;
      this.parts = { head, label, hold, state, check, problem };
      this.el.replaceChildren(...present(head, state, check, problem));
    }
    this.el.classList.toggle("unavailable", !this.available);
    this.el.dataset.state = this.file.state;
    // What had the keyboard keeps it: the same place in the new controls.
    if (focused) (this.parts.play ?? this.parts.check ?? this.el).focus?.();
  }

  /** Every text from the current state and language (no element is replaced). */
  show() {
    const p = this.parts;
    const { label, inner } = names(this.index, this.count);
    const length = this.length;
    this.el.setAttribute(
      "aria-label",
      length ? t("rec_named", { label, length: duration(length) }) : label,
    );
    p.label.textContent = this.count > 1 ? label : "";
    if (p.hold) p.hold.textContent = t("rec_legal_hold");
    p.head.hidden = this.count < 2 && !p.hold;
    p.problem.textContent = this.problem ? t(this.problem) : "";
    if (!this.available) {
      p.state.textContent = t(UNAVAILABLE[this.file.state] ?? "rec_unavailable");
      if (p.check) {
        p.check.textContent = t("rec_check");
        p.check.setAttribute("aria-label", t("rec_check_label", { label: inner }));
      }
      return;
    }
    const at = this.position();
    const busy = Boolean(this.loading);
    const action = t(busy ? "rec_loading" : this.isPlaying ? "rec_pause" : "rec_play", {
      label: inner,
    });
    p.play.setAttribute("aria-label", action);
    p.play.title = action;
    p.play.toggleAttribute("aria-busy", busy);
    this.el.dataset.playing = this.isPlaying ? "true" : "false";
    p.seek.max = String(length || 0);
    p.seek.disabled = !length;
    p.seek.value = String(at);
    p.seek.setAttribute("aria-label", t("rec_seek", { label: inner }));
    p.seek.setAttribute(
      "aria-valuetext",
      t("rec_position", { at: duration(at), length: duration(length) }),
    );
    p.at.textContent = duration(at);
    p.total.textContent = duration(length);
    const download = t(this.downloading ? "rec_downloading" : "rec_download_label", {
      label: inner,
    });
    p.download.setAttribute("aria-label", download);
    p.download.title = download;
    p.download.toggleAttribute("aria-busy", Boolean(this.downloading));
  }

  async toggle() {
    if (this.loading) return;
    if (this.isPlaying) {
      this.pause();
      return;
    }
    if (!this.audio || Date.now() >= this.expires) await this.load();
    if (this.audio && this.parts?.play) this.start();
  }

  /** A fresh signed address for the audio (the element made on the first play). */
  async load() {
    const loading = new AbortController();
    this.loading = loading;
    this.problem = null;
    this.show();
    try {
      const grant = await api(`/api/recordings/${this.file.id}/stream-url`, { signal: loading.signal });
      if (this.loading !== loading) return;
      // A little early: a request made just before the end would be refused.
      this.expires = Date.now() + Math.max(1, grant.expires_in - 2) * 1000;
      const at = this.position();
      if (!this.audio) this.audio = this.element();
      this.audio.src = grant.url;
      if (at) this.audio.currentTime = at;
    } catch (err) {
      if (err.name !== "AbortError" && this.loading === loading) this.problem = problemOf(err);
    } finally {
      if (this.loading === loading) {
        this.loading = null;
        this.show();
      }
    }
  }

  element() {
    const audio = new Audio();
    audio.preload = "auto";
    audio.addEventListener("timeupdate", () => this.show());
    audio.addEventListener("durationchange", () => this.show());
    audio.addEventListener("ended", () => this.finished());
    audio.addEventListener("pause", () => this.stopTicking());
    audio.addEventListener("playing", () => {
      this.renewed = false;
      this.show();
    });
    audio.addEventListener("error", () => this.failed());
    return audio;
  }

  /** The element could not fetch or play: an expired address is replaced once, at the same
   * position; otherwise the agent is told. */
  async failed() {
    if (!this.audio || this.loading) return;
    const resume = this.isPlaying || playing === this;
    if (!this.renewed && this.audio.error?.code !== MediaError.MEDIA_ERR_DECODE) {
      this.renewed = true;
      this.offset = this.position();
      await this.load();
      if (resume && this.audio && !this.problem) this.start();
      return;
    }
    this.problem = this.audio.error?.code === MediaError.MEDIA_ERR_DECODE ? "rec_undecodable" : "request_failed";
    this.halt();
    this.show();
  }

  start() {
    if (playing && playing !== this) playing.pause();
    if (this.position() >= this.length - 0.05) this.audio.currentTime = 0; // played to the end
    playing = this;
    this.audio.play().catch((err) => {
      if (err.name === "AbortError") return; // paused or given a new address meanwhile
      this.problem = "rec_undecodable";
      this.halt();
      this.show();
    });
    clearInterval(this.timer);
    this.timer = setInterval(() => this.show(), TICK_MS);
    this.show();
  }

  pause() {
    this.halt();
    this.show();
  }

  finished() {
    this.halt();
    this.show();
  }

  seek(seconds) {
    const at = Math.min(Math.max(0, seconds), this.length);
    if (this.audio) this.audio.currentTime = at;
    else this.offset = at;
    this.show();
  }

  stopTicking() {
    clearInterval(this.timer);
    this.timer = null;
    this.show();
  }

  /** Stop the sound (the position stays where it is). */
  halt() {
    clearInterval(this.timer);
    this.timer = null;
    if (playing === this) playing = null;
    if (this.audio && !this.audio.paused) this.audio.pause();
  }

  async download() {
    if (this.downloading) return;
    this.downloading = true;
    this.problem = null;
    this.show();
    try {
      const { blob, filename } = await apiBlob(
        `/api/recordings/${this.file.id}/audio?download=true`,
      );
      const url = URL.createObjectURL(blob);
      const name = filename || `recording-${this.file.id}`;
      const link = h("a", { href: url, download: name, hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), DOWNLOAD_KEEP_MS);
    } catch (err) {
      this.problem = problemOf(err);
    } finally {
      this.downloading = false;
      if (this.parts?.download) this.show();
    }
  }

  async check() {
    const button = this.parts.check;
    if (button?.hasAttribute("aria-busy")) return;
    button?.setAttribute("aria-busy", "true");
    this.problem = null;
    try {
      await this.onRefresh?.();
    } catch (err) {
      this.problem = problemOf(err);
    } finally {
      button?.removeAttribute("aria-busy");
      if (this.parts) this.show();
    }
  }

  /** The card no longer shows this recording: stop it and let its audio go. */
  dispose() {
    this.loading?.abort();
    this.loading = null;
    this.halt();
    if (this.audio) {
      this.audio.removeAttribute("src");
      this.audio.load(); // lets the fetch and the buffered audio go
      this.audio = null;
    }
  }
}

const present = (...nodes) => nodes.filter(Boolean);

/** What to tell the agent, as an i18n key; `otherwise` for what is not the API's answer. */
function problemOf(err, otherwise = "request_failed") {
  if (!(err instanceof ApiError)) return otherwise;
  if (err.status === 0) return "network_error";
  if (err.status === 404) return "rec_gone";
  return "request_failed";
}
