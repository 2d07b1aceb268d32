// How a call or a channel ended, in the reader's language: the hangup cause (ITU-T Q.850, as
// Asterisk gives it: 16 "Normal Clearing"), the Dial() status (ANSWER, BUSY...) and who hung
// up. A cause this table does not know is shown by its number, never in the PBX's English.

import { addStrings, digits, t, tMaybe } from "./i18n.js";

const CAUSES = {
  0: ["نامشخص", "Unknown"],
  1: ["شماره وجود ندارد", "Unallocated number"],
  2: ["مسیری به شبکه نیست", "No route to network"],
  3: ["مسیری به مقصد نیست", "No route to destination"],
  6: ["کانال پذیرفته نیست", "Channel unacceptable"],
  16: ["پایان عادی", "Normal clearing"],
  17: ["مشغول", "User busy"],
  18: ["کاربر پاسخ نمی‌دهد", "No user responding"],
  19: ["پاسخ داده نشد", "No answer"],
  20: ["مشترک در دسترس نیست", "Subscriber absent"],
  21: ["تماس رد شد", "Call rejected"],
  22: ["شماره عوض شده است", "Number changed"],
  26: ["کاربر دیگری پاسخ داد", "Answered elsewhere"],
  27: ["مقصد از کار افتاده است", "Destination out of order"],
  28: ["قالب شماره نادرست است", "Invalid number format"],
  29: ["امکان درخواستی پذیرفته نشد", "Facility rejected"],
  31: ["پایان عادی (نامشخص)", "Normal, unspecified"],
  34: ["خط آزادی نیست", "No circuit available"],
  38: ["شبکه از کار افتاده است", "Network out of order"],
  41: ["خطای موقت", "Temporary failure"],
  42: ["ازدحام در مرکز تلفن", "Switching equipment congestion"],
  44: ["کانال درخواستی آزاد نیست", "Requested channel not available"],
  47: ["منابع در دسترس نیست", "Resource unavailable"],
  50: ["امکان درخواستی فعال نیست", "Facility not subscribed"],
  57: ["اجازه این تماس نیست", "Bearer capability not authorized"],
  58: ["این نوع تماس ممکن نیست", "Bearer capability not available"],
  65: ["این نوع تماس پشتیبانی نمی‌شود", "Bearer capability not implemented"],
  66: ["نوع کانال پشتیبانی نمی‌شود", "Channel type not implemented"],
  69: ["امکان درخواستی پشتیبانی نمی‌شود", "Facility not implemented"],
  81: ["شناسه تماس نادرست است", "Invalid call reference"],
  88: ["مقصد ناسازگار است", "Incompatible destination"],
  95: ["پیام نادرست", "Invalid message"],
  96: ["اطلاعات لازم نیامد", "Mandatory information missing"],
  97: ["نوع پیام ناشناخته است", "Message type nonexistent"],
  100: ["محتوای نادرست", "Invalid information element contents"],
  102: ["زمان انتظار تمام شد", "Recovery on timer expiry"],
  111: ["خطای پروتکل", "Protocol error"],
  127: ["خطای شبکه", "Interworking, unspecified"],
};

const DIAL = {
  ANSWER: ["پاسخ داد", "Answered"],
  BUSY: ["مشغول", "Busy"],
  NOANSWER: ["پاسخ نداد", "No answer"],
  CANCEL: ["لغو شد", "Cancelled"],
  CONGESTION: ["ازدحام", "Congestion"],
  CHANUNAVAIL: ["در دسترس نیست", "Unavailable"],
  DONTCALL: ["تماس نخواست", "Declined"],
  TORTURE: ["رد شد", "Rejected"],
  INVALIDARGS: ["شماره‌گیری نادرست", "Invalid dial"],
};

const WHO = {
  customer: ["مشتری", "the customer"],
  agent: ["کارشناس", "the agent"],
  pbx: ["مرکز تلفن", "the PBX"],
};

const strings = { fa: {}, en: {} };
for (const [prefix, table] of [["cause", CAUSES], ["dial", DIAL], ["who", WHO]]) {
  for (const [key, [fa, en]] of Object.entries(table)) {
    strings.fa[`${prefix}_${key}`] = fa;
    strings.en[`${prefix}_${key}`] = en;
  }
}
strings.fa.cause_other = "علت {n}";
strings.en.cause_other = "cause {n}";
addStrings(strings);

/** A Q.850 hangup cause ("16"), in words; `text` (the PBX's) is never shown as it is. */
export function causeText(cause, text = "") {
  const code = String(cause ?? "").trim();
  if (!code) return text ? t("cause_0") : "";
  return tMaybe(`cause_${Number(code)}`) ?? t("cause_other", { n: digits(code) });
}

/** A Dial() status (BUSY, NOANSWER...) in words. */
export const dialText = (status) => (status ? (tMaybe(`dial_${status}`) ?? status) : "");

/** Who hung up (customer, agent, pbx) in words. */
export const whoText = (who) => (who ? (tMaybe(`who_${who}`) ?? who) : "");
