// How many SMS parts a text takes, counted as app/messaging/parts.py counts them (and as
// operators bill): GSM 03.38's 7-bit alphabet fits 160 characters in one part, 153 in each
// of several; one character outside it (any Persian letter) makes the text UCS-2, 70 in
// one part and 67 in each of several. tests/messaging/test_parts.py runs both on the same
// texts. No imports: node loads it in that test.

const GSM7_BASIC = new Set(
  "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà",
);
const GSM7_EXTENDED = new Set("^{}\\[~]|€\f");

export function smsParts(text) {
  const chars = Array.from(text); // code points, as Python's str
  let encoding, units, single, multi;
  if (chars.every((c) => GSM7_BASIC.has(c) || GSM7_EXTENDED.has(c))) {
    encoding = "gsm7";
    units = chars.reduce((n, c) => n + (GSM7_EXTENDED.has(c) ? 2 : 1), 0);
    single = 160;
    multi = 153;
  } else {
    encoding = "ucs2";
    units = chars.reduce((n, c) => n + (c.codePointAt(0) > 0xffff ? 2 : 1), 0);
    single = 70;
    multi = 67;
  }
  if (units <= single) {
    return { encoding, units, parts: 1, per_part: single, remaining: single - units };
  }
  const parts = Math.ceil(units / multi);
  return { encoding, units, parts, per_part: multi, remaining: parts * multi - units };
}
