// Telling the agent a call has come: a short ring made with WebAudio (no sound file), and a
// system notification when the panel is not in front of them. Mute silences the ring.

import { currentLang } from "./i18n.js";

const MUTED = "tamas.muted";
const ASKED = "tamas.notificationsAsked";

export const isMuted = () => localStorage.getItem(MUTED) === "1";

export function setMuted(muted) {
  localStorage.setItem(MUTED, muted ? "1" : "0");
}

let audio = null;

/** Browsers start audio only after a user gesture: call this from one (sign-in, a click). */
export function unlockAudio() {
  try {
    audio ??= new AudioContext();
    if (audio.state === "suspended") audio.resume().catch(() => {});
  } catch {
    audio = null; // no WebAudio: pops still show
  }
}

/** Two short bursts of the 440 + 480 Hz ring tone, faded in and out (no clicks). */
export function ring() {
  if (isMuted() || !audio || audio.state !== "running") return;
  const start = audio.currentTime + 0.02;
  const gain = audio.createGain();
  gain.gain.setValueAtTime(0, start);
  for (const offset of [0, 0.55]) {
    const on = start + offset;
    gain.gain.setValueAtTime(0, on);
    gain.gain.linearRampToValueAtTime(0.12, on + 0.03);
    gain.gain.setValueAtTime(0.12, on + 0.37);
    gain.gain.linearRampToValueAtTime(0, on + 0.4);
  }
  gain.connect(audio.destination);
  for (const frequency of [440, 480]) {
    const tone = audio.createOscillator();
    tone.frequency.value = frequency;
    tone.connect(gain);
    tone.start(start);
    tone.stop(start + 1);
  }
}

/** Ask once (on the first sign-in in this browser) whether pops may notify. */
export async function askForNotifications() {
  if (!("Notification" in window) || Notification.permission !== "default") return;
  if (localStorage.getItem(ASKED)) return;
  localStorage.setItem(ASKED, "1");
  try {
    await Notification.requestPermission();
  } catch {
    // An old browser or a policy: the panel works without notifications.
  }
}

const open = new Map();

/** A notification for the call `key`, unless the agent is looking at the panel already. */
export function notify(key, title, body, onClick) {
  if (!("Notification" in window) || Notification.permission !== "granted") return;
  if (document.visibilityState === "visible" && document.hasFocus()) return;
  try {
    const lang = currentLang();
    const note = new Notification(title, {
      body,
      tag: key, // a newer state of the same call replaces it
      lang,
      dir: lang === "fa" ? "rtl" : "ltr",
      silent: true, // the panel rings itself, and mute means mute
    });
    note.addEventListener("click", () => {
      window.focus();
      onClick?.();
      note.close();
    });
    open.set(key, note);
  } catch {
    // Notifications not allowed here: the card and the ring are enough.
  }
}

/** Take the call's notification away (answered, withdrawn, over). */
export function unnotify(key) {
  open.get(key)?.close();
  open.delete(key);
}
