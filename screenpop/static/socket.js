// The agent's pops over /ws/pops (the protocol is in screenpop/endpoints.py): authenticate
// with the first message, answer pings, keep the last seq (sessionStorage, so a reload
// resumes where the tab was), reconnect with backoff, and resume from the last seq. A
// refreshed token (api.js) revokes the old one: the socket signs in again with the new one
// at once, resuming from its last seq, so nothing is missed.

import { LAST_SEQ, onTokenRenewed, token } from "./api.js";

const SILENCE_MS = 40_000; // the server pings every 15 s; this long without a word: dead
const MAX_DELAY_MS = 30_000;

export function lastSeq() {
  const value = Number.parseInt(sessionStorage.getItem(LAST_SEQ) ?? "", 10);
  return Number.isInteger(value) ? value : null;
}

export class PopSocket {
  /**
   * onState("connecting" | "connected" | "reconnecting"), onHello(user, agentStatus),
   * onMessage(message) for pop / withdraw / end / agent, onUnauthorized() when the server
   * refuses the token.
   */
  constructor({ onState, onHello, onMessage, onUnauthorized }) {
    Object.assign(this, { onState, onHello, onMessage, onUnauthorized });
    this.ws = null;
    this.attempt = 0;
    this.retryTimer = null;
    this.silenceTimer = null;
    this.stopped = true;
    this.unrenew = null;
    this.retryNow = () => {
      if (!this.stopped && !this.ws) this.connect();
    };
  }

  start() {
    this.stopped = false;
    this.attempt = 0;
    window.addEventListener("online", this.retryNow);
    this.unrenew?.();
    this.unrenew = onTokenRenewed(() => this.renew());
    this.connect();
  }

  /** The token was refreshed: sign in again with the new one (the old one is revoked). */
  renew() {
    if (this.stopped) return;
    const old = this.ws;
    this.ws = null;
    clearTimeout(this.silenceTimer);
    old?.close(1000, "token renewed");
    this.connect({ quiet: true });
  }

  stop() {
    this.stopped = true;
    this.unrenew?.();
    this.unrenew = null;
    window.removeEventListener("online", this.retryNow);
    clearTimeout(this.retryTimer);
    clearTimeout(this.silenceTimer);
    const ws = this.ws;
    this.ws = null;
    ws?.close(1000, "signed out");
  }

  connect({ quiet = false } = {}) {
    clearTimeout(this.retryTimer);
    const bearer = token();
    if (!bearer) {
      this.onUnauthorized();
      return;
    }
    if (!quiet) this.onState(this.attempt ? "reconnecting" : "connecting");
    const url = new URL("/ws/pops", location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(url);
    this.ws = ws;
    ws.addEventListener("open", () => {
      ws.send(JSON.stringify({ type: "auth", token: bearer, last_seq: lastSeq() }));
      this.heard(ws);
    });
    ws.addEventListener("message", (event) => {
      if (ws === this.ws) this.receive(ws, event.data);
    });
    ws.addEventListener("close", (event) => {
      if (ws === this.ws) this.closed(event.code, bearer);
    });
  }

  heard(ws) {
    clearTimeout(this.silenceTimer);
    this.silenceTimer = setTimeout(() => ws.close(4000, "silent"), SILENCE_MS);
  }

  receive(ws, data) {
    this.heard(ws);
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      return;
    }
    switch (message.type) {
      case "hello":
        this.attempt = 0;
        this.onState("connected");
        this.onHello(message.user, message.agent);
        return;
      case "ping":
        ws.send(JSON.stringify({ type: "pong" }));
        return;
      case "resync":
        return; // the server closes with 4409 next; closed() reconnects at once
      default: {
        const seq = message.seq;
        if (Number.isInteger(seq)) {
          const last = lastSeq();
          if (last !== null && seq <= last) return;
          sessionStorage.setItem(LAST_SEQ, String(seq));
        }
        this.onMessage(message);
      }
    }
  }

  closed(code, bearer) {
    clearTimeout(this.silenceTimer);
    this.ws = null;
    if (this.stopped) return;
    if (code === 4401 && token() && token() !== bearer) {
      // Refused the token a refresh has replaced since: sign in with the new one now.
      this.connect({ quiet: true });
      return;
    }
    if (code === 4401) {
      this.stopped = true;
      this.onUnauthorized();
      return;
    }
    // 4409 (resync): reconnect now with the last seq. Otherwise back off, with jitter so a
    // restarted server is not hit by every agent in the same instant.
    const base = code === 4409 ? 0 : Math.min(MAX_DELAY_MS, 500 * 2 ** this.attempt);
    this.attempt += 1;
    this.onState("reconnecting");
    this.retryTimer = setTimeout(() => this.connect(), base * (0.5 + Math.random() / 2));
  }
}
