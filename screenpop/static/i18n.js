// The panel's words, digits and dates: Persian first (RTL, Persian digits, the Jalali
// calendar), English as a switch. Chromium formats the Persian calendar itself (Intl).

const STRINGS = {
  fa: {
    app_name: "تماس",
    sep: "، ",
    panel_title: "پنل کارشناس",
    page_title: "تماس — پنل کارشناس",
    skip_to_calls: "رفتن به تماس‌های زنده",
    switch_lang: "English",
    signin_title: "ورود به پنل کارشناس",
    username: "نام کاربری",
    password: "گذرواژه",
    signin: "ورود",
    signing_in: "در حال ورود…",
    signin_failed: "نام کاربری یا گذرواژه نادرست است.",
    signin_wait: "تلاش ناموفق زیاد بود؛ {s} ثانیه دیگر دوباره امتحان کنید.",
    session_over: "نشست شما پایان یافت؛ دوباره وارد شوید.",
    network_error: "سرور در دسترس نیست؛ دوباره امتحان کنید.",
    request_failed: "درخواست انجام نشد.",
    signed_in_as: "کارشناس",
    phones: "داخلی",
    no_devices: "بدون داخلی",
    conn_label: "اتصال",
    conn_connecting: "در حال اتصال…",
    conn_connected: "متصل",
    conn_reconnecting: "قطع شد؛ در حال اتصال دوباره…",
    mute: "بی‌صدا",
    sign_out: "خروج",
    live_calls: "تماس‌های زنده",
    no_calls: "فعلاً تماسی نیست. تماس‌ها اینجا نمایش داده می‌شوند.",
    state_ringing: "در حال زنگ",
    state_answered: "در حال مکالمه",
    state_dialling: "در حال شماره‌گیری",
    state_connected: "وصل شد",
    state_transferred: "انتقال از {name}",
    state_ended: "تماس پایان یافت",
    withdrawn_answered: "پاسخ داده شد توسط {name}",
    withdrawn_caller_hung_up: "تماس‌گیرنده قطع کرد",
    withdrawn_transferred: "منتقل شد",
    withdrawn_transferred_to: "منتقل شد به {name}",
    withdrawn_no_answer: "پاسخ داده نشد",
    withdrawn_busy: "مشغول بود",
    withdrawn_failed: "برقرار نشد",
    withdrawn_other: "تماس برداشته شد",
    direction_inbound: "ورودی",
    direction_outbound: "خروجی",
    direction_internal: "داخلی",
    queue: "صف {queue}",
    close: "بستن",
    close_card: "بستن کارت تماس {number}",
    unknown_number: "شماره ناشناس",
    caller_id: "نام اعلام‌شده",
    last_calls: "تماس‌های اخیر",
    no_last_calls: "تماس قبلی ندارد.",
    outcome_answered: "پاسخ داده شد",
    outcome_missed: "از دست رفته",
    outcome_abandoned: "رها شده",
    outcome_busy: "مشغول",
    outcome_no_answer: "بی‌پاسخ",
    outcome_failed: "ناموفق",
    outcome_live: "در جریان",
    by_agent: "با {name}",
    priority: "اولویت",
    priority_value: "اولویت {p}",
    priority_none: "بدون اولویت",
    vip: "ویژه (VIP)",
    announce_ringing: "تماس از {who}",
    announce_dialling: "شماره‌گیری {who}",
    announce_transferred: "تماس منتقل‌شده از {name}: {who}",
    notification_title: "تماس ورودی",
    quick_create: "ثبت مشتری جدید برای این شماره",
    name: "نام",
    name_required: "نام را بنویسید.",
    company: "شرکت",
    number: "شماره",
    save: "ذخیره",
    saving: "در حال ذخیره…",
    saved: "ذخیره شد.",
    save_failed: "ذخیره نشد.",
    customer: "پرونده مشتری",
    no_customer: "مشتری‌ای را از تماس‌ها یا دفترچه تلفن انتخاب کنید.",
    kind: "نوع",
    kind_person: "شخص",
    kind_organization: "سازمان",
    address: "نشانی",
    email: "ایمیل",
    tags: "برچسب‌ها",
    tags_hint: "با ویرگول جدا کنید",
    notes: "یادداشت‌ها",
    numbers: "شماره‌ها",
    call_history: "سابقه تماس",
    no_calls_yet: "هنوز تماسی ثبت نشده.",
    date: "تاریخ",
    direction: "جهت",
    agent: "کارشناس",
    outcome: "نتیجه",
    talk_time: "مدت مکالمه",
    edit: "ویرایش",
    edit_customer: "ویرایش {name}",
    cancel: "انصراف",
    more: "بیشتر",
    loading: "در حال بارگذاری…",
    phonebook: "دفترچه تلفن",
    search_label: "جستجوی نام، شرکت یا شماره",
    search_hint: "برای جستجو کلید / را بزنید.",
    no_results: "چیزی پیدا نشد.",
    results: "{n} نتیجه",
    results_one: "یک نتیجه",
    results_more: "{n} نتیجه، بیشتر هم هست",
    label_mobile: "همراه",
    label_work: "محل کار",
    label_home: "منزل",
    label_fax: "نمابر",
    label_other: "دیگر",
    // click-to-call
    call: "تماس",
    call_number: "تماس با {number}",
    call_again: "تماس دوباره",
    number_col: "شماره",
    click_to_call: "تماس از پنل",
    state_requested: "درخواست شد",
    state_agent_ringing: "تلفن شما زنگ می‌زند",
    state_failed: "برقرار نشد",
    orig_dialling: "در حال تماس با مشتری",
    progress_requested: "درخواست فرستاده شد؛ تلفن شما زنگ خواهد زد.",
    progress_agent_ringing: "تلفن شما زنگ می‌زند؛ گوشی را بردارید تا با {who} تماس گرفته شود.",
    progress_dialling: "در حال تماس با {who}…",
    progress_connected: "با {who} وصل شدید.",
    announce_requested: "درخواست تماس با {who} فرستاده شد؛ تلفن شما زنگ خواهد زد.",
    announce_orig_failed: "تماس با {who} برقرار نشد: {why}",
    failure_device_offline: "تلفن شما خاموش است یا در دسترس نیست",
    failure_agent_no_answer: "گوشی خود را برنداشتید",
    failure_agent_busy: "تلفن شما مشغول است",
    failure_agent_rejected: "تلفن شما تماس را رد کرد",
    failure_customer_busy: "مشتری مشغول است",
    failure_customer_no_answer: "مشتری پاسخ نداد",
    failure_invalid_number: "شماره نادرست است یا در سرویس نیست",
    failure_congestion: "شبکه شلوغ است؛ دوباره امتحان کنید",
    failure_cancelled: "پیش از پاسخ مشتری قطع کردید",
    failure_failed: "تماس برقرار نشد",
    failure_pbx_unavailable: "مرکز تلفن در دسترس نیست",
    failure_pbx_refused: "مرکز تلفن تماس را نپذیرفت",
    dial_refused: "این شماره گرفته نمی‌شود: {message}",
    dial_wait: "تماس‌های این دقیقه زیاد بود؛ {s} ثانیه دیگر دوباره امتحان کنید.",
    dial_not_yours: "فقط از تلفن خودتان می‌توانید تماس بگیرید.",
    dial_no_pbx: "مرکز تلفن در دسترس نیست؛ کمی بعد دوباره امتحان کنید.",
    dial_pbx_refused: "مرکز تلفن تماس را نپذیرفت: {message}",
    // availability
    my_status: "وضعیت من",
    avail_available: "آماده",
    avail_partly_paused: "آماده (در برخی صف‌ها در استراحت)",
    avail_paused: "در استراحت",
    avail_paused_reason: "در استراحت: {reason}",
    avail_after_call_work: "کار پس از تماس تا {time}",
    avail_ringing: "تلفن در حال زنگ",
    avail_on_call: "در مکالمه",
    avail_offline: "تلفن در دسترس نیست",
    avail_no_queue: "عضو هیچ صفی نیستید",
    avail_left: "{left} مانده",
    avail_waiting: "در انتظار تأیید مرکز تلفن…",
    pause: "استراحت",
    pause_reasons: "دلیل استراحت",
    ready: "آماده‌ام",
    queue_login: "ورود به صف {queue}",
    queue_logout: "خروج از صف {queue}",
    reason_lunch: "ناهار",
    reason_break: "استراحت کوتاه",
    reason_training: "آموزش",
    reason_meeting: "جلسه",
    "reason_after-call work": "کار پس از تماس",
    // recordings
    recording_col: "ضبط",
    recording_one: "ضبط مکالمه",
    recording_of: "ضبط {n} از {count}",
    recording_one_in: "ضبط مکالمه",
    recording_of_in: "ضبط {n} از {count}",
    rec_named: "{label}، {length}",
    rec_play: "پخش {label}",
    rec_pause: "مکث {label}",
    rec_loading: "در حال دریافت {label}…",
    rec_seek: "جای پخش در {label}",
    rec_position: "{at} از {length}",
    rec_download_label: "دانلود {label}",
    rec_downloading: "در حال دانلود {label}…",
    rec_legal_hold: "نگهداری قانونی",
    rec_pending: "هنوز از مرکز تلفن نرسیده است",
    rec_missing: "فایل ضبط پیدا نشد",
    rec_deleted: "طبق سیاست نگهداری حذف شده است",
    rec_unavailable: "در دسترس نیست",
    rec_check: "بررسی دوباره",
    rec_check_label: "بررسی دوباره {label}",
    rec_gone: "فایل این ضبط دیگر در دسترس نیست.",
    rec_undecodable: "این مرورگر این ضبط را پخش نمی‌کند.",
  },
  en: {
    app_name: "Tamas",
    sep: " · ",
    panel_title: "Agent panel",
    page_title: "Tamas — agent panel",
    skip_to_calls: "Skip to live calls",
    switch_lang: "فارسی",
    signin_title: "Sign in to the agent panel",
    username: "Username",
    password: "Password",
    signin: "Sign in",
    signing_in: "Signing in…",
    signin_failed: "Wrong username or password.",
    signin_wait: "Too many failed attempts; try again in {s} seconds.",
    session_over: "Your session has ended; please sign in again.",
    network_error: "The server cannot be reached; try again.",
    request_failed: "The request failed.",
    signed_in_as: "Agent",
    phones: "Phone",
    no_devices: "no phone",
    conn_label: "Connection",
    conn_connecting: "Connecting…",
    conn_connected: "Connected",
    conn_reconnecting: "Disconnected; reconnecting…",
    mute: "Mute",
    sign_out: "Sign out",
    live_calls: "Live calls",
    no_calls: "No calls right now. They show up here.",
    state_ringing: "Ringing",
    state_answered: "On the call",
    state_dialling: "Dialling",
    state_connected: "Connected",
    state_transferred: "Transferred by {name}",
    state_ended: "Call ended",
    withdrawn_answered: "Answered by {name}",
    withdrawn_caller_hung_up: "Caller hung up",
    withdrawn_transferred: "Transferred",
    withdrawn_transferred_to: "Transferred to {name}",
    withdrawn_no_answer: "No answer",
    withdrawn_busy: "Busy",
    withdrawn_failed: "Did not go through",
    withdrawn_other: "Withdrawn",
    direction_inbound: "Incoming",
    direction_outbound: "Outgoing",
    direction_internal: "Internal",
    queue: "Queue {queue}",
    close: "Close",
    close_card: "Close the card of call {number}",
    unknown_number: "Unknown number",
    caller_id: "Caller ID",
    last_calls: "Recent calls",
    no_last_calls: "No earlier calls.",
    outcome_answered: "answered",
    outcome_missed: "missed",
    outcome_abandoned: "abandoned",
    outcome_busy: "busy",
    outcome_no_answer: "no answer",
    outcome_failed: "failed",
    outcome_live: "in progress",
    by_agent: "with {name}",
    priority: "Priority",
    priority_value: "Priority {p}",
    priority_none: "None",
    vip: "VIP",
    announce_ringing: "Call from {who}",
    announce_dialling: "Dialling {who}",
    announce_transferred: "Call transferred by {name}: {who}",
    notification_title: "Incoming call",
    quick_create: "New customer for this number",
    name: "Name",
    name_required: "Enter a name.",
    company: "Company",
    number: "Number",
    save: "Save",
    saving: "Saving…",
    saved: "Saved.",
    save_failed: "Could not save.",
    customer: "Customer",
    no_customer: "Pick a customer from a call or the phonebook.",
    kind: "Kind",
    kind_person: "Person",
    kind_organization: "Organisation",
    address: "Address",
    email: "Email",
    tags: "Tags",
    tags_hint: "separate with commas",
    notes: "Notes",
    numbers: "Numbers",
    call_history: "Call history",
    no_calls_yet: "No calls yet.",
    date: "Date",
    direction: "Direction",
    agent: "Agent",
    outcome: "Outcome",
    talk_time: "Talk time",
    edit: "Edit",
    edit_customer: "Edit {name}",
    cancel: "Cancel",
    more: "More",
    loading: "Loading…",
    phonebook: "Phonebook",
    search_label: "Search name, company or number",
    search_hint: "Press / to search.",
    no_results: "Nothing found.",
    results: "{n} results",
    results_one: "1 result",
    results_more: "{n} results, more available",
    label_mobile: "mobile",
    label_work: "work",
    label_home: "home",
    label_fax: "fax",
    label_other: "other",
    // click-to-call
    call: "Call",
    call_number: "Call {number}",
    call_again: "Call again",
    number_col: "Number",
    click_to_call: "click-to-call",
    state_requested: "Requested",
    state_agent_ringing: "Your phone is ringing",
    state_failed: "Did not go through",
    orig_dialling: "Calling the customer",
    progress_requested: "Requested: your phone will ring.",
    progress_agent_ringing: "Your phone is ringing — pick it up to call {who}.",
    progress_dialling: "Calling {who}…",
    progress_connected: "Connected to {who}.",
    announce_requested: "Calling {who} requested: your phone will ring.",
    announce_orig_failed: "The call to {who} did not go through: {why}",
    failure_device_offline: "Your phone is offline or unreachable",
    failure_agent_no_answer: "You did not answer your phone",
    failure_agent_busy: "Your phone is busy",
    failure_agent_rejected: "Your phone declined the call",
    failure_customer_busy: "The customer is busy",
    failure_customer_no_answer: "The customer did not answer",
    failure_invalid_number: "The number is invalid or not in service",
    failure_congestion: "The network is congested; try again",
    failure_cancelled: "You hung up before the customer answered",
    failure_failed: "The call could not be placed",
    failure_pbx_unavailable: "The PBX cannot be reached",
    failure_pbx_refused: "The PBX refused the call",
    dial_refused: "This number cannot be dialled: {message}",
    dial_wait: "Too many calls this minute; try again in {s} s.",
    dial_not_yours: "You can only call from your own phone.",
    dial_no_pbx: "The PBX cannot be reached; try again shortly.",
    dial_pbx_refused: "The PBX refused the call: {message}",
    // availability
    my_status: "My status",
    avail_available: "Available",
    avail_partly_paused: "Available (paused in some queues)",
    avail_paused: "Paused",
    avail_paused_reason: "Paused: {reason}",
    avail_after_call_work: "After-call work until {time}",
    avail_ringing: "Phone ringing",
    avail_on_call: "On a call",
    avail_offline: "Phone offline",
    avail_no_queue: "In no queue",
    avail_left: "{left} left",
    avail_waiting: "Waiting for the PBX…",
    pause: "Pause",
    pause_reasons: "Pause reason",
    ready: "Ready",
    queue_login: "Log in to {queue}",
    queue_logout: "Log out of {queue}",
    reason_lunch: "lunch",
    reason_break: "break",
    reason_training: "training",
    reason_meeting: "meeting",
    "reason_after-call work": "after-call work",
    // recordings
    recording_col: "Recording",
    recording_one: "Recording",
    recording_of: "Recording {n} of {count}",
    recording_one_in: "the recording",
    recording_of_in: "recording {n} of {count}",
    rec_named: "{label}, {length}",
    rec_play: "Play {label}",
    rec_pause: "Pause {label}",
    rec_loading: "Loading {label}…",
    rec_seek: "Position in {label}",
    rec_position: "{at} of {length}",
    rec_download_label: "Download {label}",
    rec_downloading: "Downloading {label}…",
    rec_legal_hold: "legal hold",
    rec_pending: "The recording has not arrived yet",
    rec_missing: "The recording is missing",
    rec_deleted: "Deleted under the retention policy",
    rec_unavailable: "Not available",
    rec_check: "Check again",
    rec_check_label: "Check {label} again",
    rec_gone: "The recording's file is no longer available.",
    rec_undecodable: "This browser cannot play this recording.",
  },
};

const LANG_KEY = "tamas.lang";
let lang = localStorage.getItem(LANG_KEY) === "en" ? "en" : "fa";

export const currentLang = () => lang;

/** The UI string `key` with {placeholders} filled in (values are text, never markup). */
export function t(key, vars = {}) {
  const text = STRINGS[lang][key] ?? STRINGS.fa[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
}

/** t() when the key exists, else null (labels and outcomes the dictionary may not know). */
export const tMaybe = (key, vars) => (key in STRINGS[lang] ? t(key, vars) : null);

const FA_DIGITS = "۰۱۲۳۴۵۶۷۸۹";

/** Latin digits shown as Persian ones in the Persian UI (numbers, extensions, times). */
export function digits(text) {
  const s = String(text ?? "");
  return lang === "fa" ? s.replace(/[0-9]/g, (d) => FA_DIGITS[d]) : s;
}

export function formatCount(n) {
  return new Intl.NumberFormat(lang === "fa" ? "fa-IR" : "en").format(n);
}

/** m:ss (or h:mm:ss) of a duration in seconds. */
export function duration(seconds) {
  const s = Math.max(0, Math.round(seconds || 0));
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return digits(hh ? `${hh}:${String(mm).padStart(2, "0")}:${ss}` : `${mm}:${ss}`);
}

const WHEN = { dateStyle: "medium", timeStyle: "short" };

/** The date as the reader's calendar shows it, and the other calendar for the title. */
export function formatDate(iso) {
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return { text: "", title: "" };
  const jalali = lang === "fa" ? "fa-IR-u-ca-persian" : "en-u-ca-persian";
  const gregorian = lang === "fa" ? "fa-IR-u-ca-gregory" : "en-GB";
  const main = new Intl.DateTimeFormat(lang === "fa" ? jalali : gregorian, WHEN).format(when);
  const other = new Intl.DateTimeFormat(lang === "fa" ? gregorian : jalali, WHEN).format(when);
  return { text: main, title: other };
}

/** A <time> element: Jalali in Persian (Gregorian on hover), Gregorian in English. */
export function timeElement(iso) {
  const el = document.createElement("time");
  const { text, title } = formatDate(iso);
  el.dateTime = iso;
  el.textContent = text;
  el.title = title;
  return el;
}

/** Switch the page's language and direction; listeners re-render what they drew. */
export function setLang(next) {
  lang = next === "en" ? "en" : "fa";
  localStorage.setItem(LANG_KEY, lang);
  applyLang();
  document.dispatchEvent(new CustomEvent("langchange"));
}

/** Put the current language on <html> and on every element marked data-i18n. */
export function applyLang(root = document) {
  document.documentElement.lang = lang;
  document.documentElement.dir = lang === "fa" ? "rtl" : "ltr";
  document.title = t("page_title");
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) {
    el.placeholder = t(el.dataset.i18nPlaceholder);
  }
  for (const el of root.querySelectorAll("[data-i18n-lang]")) {
    // The switch names the other language in that language.
    el.lang = lang === "fa" ? "en" : "fa";
  }
}
