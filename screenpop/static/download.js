// Files from the API saved by the browser: the API wants the bearer token, which a plain
// link cannot send, so the file is fetched with it and handed over as an object URL (as the
// recordings' download does).

import { apiBlob } from "./api.js";
import { h } from "./dom.js";

// The object URL is kept this long after the click (the browser reads it first).
const KEEP_MS = 60_000;

/** Fetch `path` and save it under the server's file name (or `fallback`). */
export async function download(path, fallback) {
  const { blob, filename } = await apiBlob(path);
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: filename || fallback, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), KEEP_MS);
}

/** Query parameters from pairs, leaving out empty values; arrays repeat the name. */
export function query(pairs) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(pairs)) {
    for (const one of Array.isArray(value) ? value : [value]) {
      if (one !== null && one !== undefined && String(one).trim() !== "") {
        params.append(name, String(one).trim());
      }
    }
  }
  return params;
}
