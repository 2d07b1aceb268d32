// Tabs (the WAI-ARIA pattern): one tab stop for the whole list, arrow keys between the tabs
// (the way the text runs: left is "next" in Persian), Home and End; a tab shows its panel.

export class Tabs {
  /** `onSelect(id)` after a tab (by its id) is shown. */
  constructor(list, { onSelect = () => {} } = {}) {
    this.tabs = [...list.querySelectorAll('[role="tab"]')];
    this.onSelect = onSelect;
    for (const tab of this.tabs) tab.addEventListener("click", () => this.select(tab.id));
    list.addEventListener("keydown", (event) => this.keys(event));
  }

  get selected() {
    return this.tabs.find((tab) => tab.getAttribute("aria-selected") === "true")?.id;
  }

  select(id, { focus = false } = {}) {
    for (const tab of this.tabs) {
      const on = tab.id === id;
      tab.setAttribute("aria-selected", String(on));
      tab.tabIndex = on ? 0 : -1;
      document.getElementById(tab.getAttribute("aria-controls")).hidden = !on;
      if (on && focus) tab.focus();
    }
    this.onSelect(id);
  }

  keys(event) {
    const at = this.tabs.indexOf(document.activeElement);
    if (at < 0) return;
    const forward = document.dir === "rtl" ? "ArrowLeft" : "ArrowRight";
    const back = document.dir === "rtl" ? "ArrowRight" : "ArrowLeft";
    const last = this.tabs.length - 1;
    const to = { [forward]: at === last ? 0 : at + 1, [back]: at === 0 ? last : at - 1 };
    Object.assign(to, { Home: 0, End: last });
    if (!(event.key in to)) return;
    event.preventDefault();
    this.select(this.tabs[to[event.key]].id, { focus: true });
  }
}
