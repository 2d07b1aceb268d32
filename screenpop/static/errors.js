// What the server said went wrong, in the reader's language. The API's messages are English
// (for API users and logs); each comes with a code (error.code, and fields[].code: ours or
// pydantic's error type), which is what the panel shows in words. A code this table does not
// know is said by its HTTP status in Persian; in English the server's message is shown.

import { addStrings, currentLang, t, tMaybe } from "./i18n.js";

addStrings({
  fa: {
    error_date_invalid: "تاریخ نادرست است؛ شمسی (\u2066۱۴۰۵-۰۹-۰۲\u2069) یا میلادی (\u20662026-11-23\u2069) بنویسید.",
    error_date_order: "تاریخ پایان پیش از تاریخ شروع است.",
    error_date_out_of_range: "تاریخ بیرون از بازه پذیرفتنی است.",
    error_period_too_long: "گزارش حداکثر ۴۰۰ روز را در بر می‌گیرد.",
    error_number_invalid: "این شماره تلفن درست نیست.",
    error_number_denied: "گرفتن این شماره از تماس مجاز نیست.",
    error_number_abroad: "تماس با خارج از کشور از تماس مجاز نیست.",
    error_number_premium: "گرفتن شماره‌های پولی مجاز نیست.",
    error_not_found: "پیدا نشد.",
    error_forbidden: "اجازه این کار را ندارید.",
    error_conflict: "با داده‌های موجود ناسازگار است.",
    error_too_many_attempts: "درخواست‌ها زیاد بود؛ کمی بعد دوباره امتحان کنید.",
    error_pbx_unavailable: "مرکز تلفن در دسترس نیست.",
    error_pbx_refused: "مرکز تلفن درخواست را نپذیرفت.",
    error_no_pbx: "مرکز تلفنی تنظیم نشده است.",
    error_too_large: "حجم فایل یا درخواست بیش از اندازه است.",
    error_recording_not_available: "این ضبط در دسترس نیست.",
    error_storage_unavailable: "محل نگهداری ضبط‌ها در دسترس نیست.",
    error_code_mistyped: "کد پیگیری اشتباه نوشته شده است.",
    error_on_a_call: "شما در حال مکالمه هستید.",
    error_origination_pending: "تماس قبلی شما هنوز در حال برقراری است.",
    error_missing: "این مورد لازم است.",
    error_string_too_short: "کوتاه است.",
    error_string_too_long: "بیش از اندازه طولانی است.",
    error_int_parsing: "باید عدد باشد.",
    error_float_parsing: "باید عدد باشد.",
    error_bool_parsing: "باید بله یا خیر باشد.",
    error_greater_than_equal: "کوچک‌تر از حد مجاز است.",
    error_less_than_equal: "بزرگ‌تر از حد مجاز است.",
    error_literal_error: "یکی از گزینه‌ها را انتخاب کنید.",
    error_enum: "یکی از گزینه‌ها را انتخاب کنید.",
    error_value_error: "مقدار پذیرفته نیست.",
    error_status_400: "درخواست نادرست است.",
    error_status_401: "نشست شما پایان یافت؛ دوباره وارد شوید.",
    error_status_403: "اجازه این کار را ندارید.",
    error_status_404: "پیدا نشد.",
    error_status_409: "با داده‌های موجود ناسازگار است.",
    error_status_413: "حجم درخواست بیش از اندازه است.",
    error_status_422: "مقدار واردشده پذیرفته نیست.",
    error_status_429: "درخواست‌ها زیاد بود؛ کمی بعد دوباره امتحان کنید.",
    error_status_502: "مرکز تلفن درخواست را نپذیرفت.",
    error_status_503: "سرویس در دسترس نیست؛ کمی بعد دوباره امتحان کنید.",
  },
  en: {
    error_date_invalid: "Not a date: write it Gregorian (2026-11-23) or Jalali (1405-09-02).",
    error_date_order: "The last day is before the first.",
    error_on_a_call: "You are on a call.",
    error_origination_pending: "Your previous call is still being placed.",
  },
});

/** An API error ({code, message}) in the reader's language; `status` its HTTP status. */
export function serverText(error, status = 0) {
  const known = error?.code ? tMaybe(`error_${error.code}`) : null;
  if (known) return known;
  if (currentLang() !== "fa" && error?.message) return error.message;
  return tMaybe(`error_status_${status}`) ?? t("request_failed");
}

/** A field's error ({field, message, code}) in the reader's language. */
export function fieldText(f, error) {
  if (f.code === undefined && !error?.code) return f.message; // the panel's own words
  const code = f.code ?? (error?.fields?.length === 1 ? error.code : null);
  return serverText({ code, message: f.message }, 422);
}
