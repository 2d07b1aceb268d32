// The agent panel: sign in, the agent's status bar, and the parts wired together (the pops
// socket feeds the pop cards and the availability control; cards, the phonebook, cases and
// callbacks open the customer card; cards open cases; the call buttons everywhere place
// calls whose cards the pop board keeps).

import { askForNotifications, isMuted, setMuted, unlockAudio } from "./alerts.js";
import { currentUser, forget, keepFresh, onSignedOut, signIn, signOut, token } from "./api.js";
import { Availability } from "./availability.js";
import { Callbacks } from "./callbacks.js";
import { CaseFinder } from "./cases.js";
import { forgetDrafts, forgetOptions } from "./casework.js";
import { ContractSection } from "./contracts.js";
import { CustomerCard, errorText, extensionOf } from "./customers.js";
import { dialInto } from "./dialling.js";
import { Desk } from "./desk.js";
import { Followups } from "./followups.js";
import { forgetEnrichments } from "./enrichment.js";
import { $ } from "./dom.js";
import { applyLang, currentLang, digits, setLang, t } from "./i18n.js";
import { Phonebook } from "./phonebook.js";
import { PopBoard } from "./pops.js";
import { Reviews } from "./reviews.js";
import { PopSocket } from "./socket.js";
import { Tabs } from "./tabs.js";
import { TextSection } from "./texts.js";

const availability = new Availability();
const card = new CustomerCard({
  onSaved: (customer) => {
    board.updateCustomer(customer);
    book.update(customer);
  },
  contracts: new ContractSection(),
  texts: new TextSection(),
  extraCell: (call) => reviews.cell(call),
});
const openCustomer = (id) => card.open(id);
const desk = new Desk({ openCustomer });
const reviews = new Reviews({
  openCustomer: (id) => {
    desk.toPanel();
    openCustomer(id);
  },
  onChange: () => card.render(),
});
const tabs = new Tabs($("side-tabs"), {
  onSelect: (id) => {
    if (id === "tab-callbacks" && token()) callbacks.refresh();
    if (id === "tab-due" && token()) followups.refresh();
  },
});
const cases = new CaseFinder({ openCustomer });
const callbacks = new Callbacks({
  openCustomer,
  onCount: (n) => {
    $("callbacks-count").textContent = n ? digits(n) : "";
  },
});
const followups = new Followups({
  openCustomer,
  onCount: (n) => {
    $("due-count").textContent = n ? digits(n) : "";
  },
});
const board = new PopBoard({
  openCustomer,
  onLine: (line) => availability.showLine(line),
  openCase: (code) => {
    tabs.select("tab-cases");
    cases.show(code);
  },
});
const book = new Phonebook({ onPick: openCustomer });
dialInto(board);
const socket = new PopSocket({
  onState: showConnection,
  onHello: (who, agent) => {
    showUser(who);
    availability.show(agent);
  },
  onMessage: (message) => {
    if (message.type === "agent") availability.show(message.status);
    else if (message.type === "supervised") availability.supervised(message);
    else if (message.type === "review") reviews.handle(message);
    else if (message.type === "reminder" || message.type === "callback_due") {
      followups.handle(message);
      if (message.type === "callback_due") callbacks.soon();
    }
    else if (message.type === "enrichment") board.handle(message);
    else {
      board.handle(message);
      if (message.type !== "pop") {
        // A call of this agent's ended: it may be owed a call back now, or no longer; the
        // customer card open on one of its customers shows it in their history.
        callbacks.soon();
        if ((message.customers ?? []).some((c) => String(c.id) === String(card.customer?.id))) {
          card.refresh();
        }
      }
    }
  },
  onUnauthorized: () => endSession("session_over"),
});
onSignedOut(() => endSession("session_over"));

let connection = "connecting";
let user = null;

function showConnection(state) {
  connection = state;
  $("conn").dataset.state = state;
  $("conn-text").textContent = t(`conn_${state}`);
}

function showUser(who) {
  user = who ?? user;
  if (!user) return;
  $("me-name").textContent = user.full_name || user.username;
  const devices = user.devices ?? [];
  $("me-devices").textContent = devices.length
    ? `${t("phones")} ${devices.map((d) => digits(extensionOf(d))).join("، ")}`
    : t("no_devices");
  $("me-devices").title = devices.join(", ");
}

function showMute() {
  $("mute").setAttribute("aria-pressed", String(isMuted()));
}

function startPanel() {
  $("signin").hidden = true;
  $("app").hidden = false;
  showUser(currentUser());
  showMute();
  card.clear();
  book.clear();
  cases.clear();
  tabs.select("tab-book");
  board.restore();
  keepFresh(); // after a reload: the refresh this tab's token is due for
  socket.start();
  callbacks.start();
  reviews.start();
  followups.start();
  desk.start();
}

/** Back to the sign-in form; `messageKey` says why (a session that ended on its own). */
function endSession(messageKey = null) {
  socket.stop();
  callbacks.stop();
  followups.stop();
  board.clear();
  card.clear();
  book.clear();
  cases.clear();
  availability.clear();
  reviews.clear();
  desk.stop();
  forgetOptions();
  forgetEnrichments();
  forget();
  user = null;
  showConnection("connecting");
  $("app").hidden = true;
  $("signin").hidden = false;
  const message = $("signin-error");
  message.textContent = messageKey ? t(messageKey) : "";
  if (messageKey) message.dataset.i18n = messageKey;
  else delete message.dataset.i18n;
  $("username").focus();
}

$("signin-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  unlockAudio(); // inside the click: browsers allow sound only after one
  const username = $("username").value.trim();
  const password = $("password").value;
  const message = $("signin-error");
  delete message.dataset.i18n;
  if (!username || !password) {
    message.textContent = t("signin_failed");
    (username ? $("password") : $("username")).focus();
    return;
  }
  const button = $("signin-button");
  button.disabled = true;
  button.textContent = t("signing_in");
  try {
    await signIn(username, password);
    $("password").value = "";
    message.textContent = "";
    startPanel();
    await askForNotifications();
  } catch (err) {
    if (err.status === 401 || err.status === 422) message.textContent = t("signin_failed");
    else if (err.status === 429) {
      message.textContent = t("signin_wait", { s: digits(err.retryAfter ?? "60") });
    } else message.textContent = errorText(err);
    $("password").select();
  } finally {
    button.disabled = false;
    button.textContent = t("signin");
  }
});

$("signout").addEventListener("click", async () => {
  socket.stop();
  forgetDrafts();
  await signOut();
  endSession();
});

$("mute").addEventListener("click", () => {
  setMuted(!isMuted());
  unlockAudio();
  showMute();
});

for (const button of document.querySelectorAll(".lang-switch")) {
  button.addEventListener("click", () => setLang(currentLang() === "fa" ? "en" : "fa"));
}

document.addEventListener("langchange", () => {
  showConnection(connection);
  showUser(null);
});

// Sound needs a gesture; after a reload the first click or key press gives one.
for (const kind of ["pointerdown", "keydown"]) {
  document.addEventListener(kind, unlockAudio, { once: true, capture: true });
}

// "/" jumps to the phonebook search, unless the agent is typing somewhere.
document.addEventListener("keydown", (event) => {
  if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.target.closest?.("input, textarea, select, [contenteditable]")) return;
  if ($("app").hidden || $("panes").hidden) return;
  event.preventDefault();
  tabs.select("tab-book");
  $("search").focus();
});

applyLang();
if (token()) startPanel();
else endSession();
