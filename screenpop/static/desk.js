// The supervisor views (call history, KPI reports, the live wallboard) as views of the same
// page as the agent's panel: one sign-in, one session, and the agent's own pops keep coming
// while a supervisor (who may take calls too) reads the history. The address's #fragment
// names the view (#history, #reports, #wallboard, #sms, #integrations for admins), so a wall screen can open straight on the
// wallboard and a reload stays where it was. A view's module (and Chart.js) is loaded the
// first time it is opened; agents get their own history and figures, and no wallboard.

import { currentUser } from "./api.js";
import { $ } from "./dom.js";
import "./i18n_desk.js";

const VIEWS = {
  history: { load: () => import("./history.js"), supervisor: false },
  reports: { load: () => import("./reports.js"), supervisor: false },
  activity: { load: () => import("./activity.js"), supervisor: false },
  periods: { load: () => import("./periods.js"), supervisor: true },
  qa: { load: () => import("./qa.js"), supervisor: false },
  wallboard: { load: () => import("./wallboard.js"), supervisor: true },
  sms: { load: () => import("./messaging.js"), supervisor: true },
  integrations: { load: () => import("./integrations.js"), supervisor: true, admin: true },
};

export const isSupervisor = (user = currentUser()) =>
  user?.role === "supervisor" || user?.role === "admin";

export const isAdmin = (user = currentUser()) => user?.role === "admin";

/** Whether this user may open the view ``spec`` (admins only for the admin's views). */
const mayOpen = (spec) => (!spec.supervisor || isSupervisor()) && (!spec.admin || isAdmin());

export class Desk {
  /** `openCustomer(id)` shows a customer in the panel's customer card. */
  constructor({ openCustomer }) {
    this.openCustomer = openCustomer;
    this.links = [...$("views").querySelectorAll("a[data-view]")];
    this.views = new Map(); // name -> the view object, while signed in
    this.current = "panel";
    this.active = false;
    this.routing = Promise.resolve();
    window.addEventListener("hashchange", () => this.route());
  }

  /** Signed in: show the links this user may follow and the view the address names. */
  start() {
    this.active = true;
    for (const link of this.links) {
      const spec = VIEWS[link.dataset.view];
      link.parentElement.hidden = Boolean(spec) && !mayOpen(spec);
    }
    // A supervisor with no phone takes no calls: their panel would stay empty, so they
    // land on the wallboard (an address naming a view still opens that view).
    const user = currentUser();
    if (isSupervisor(user) && !user?.devices?.length && !location.hash.slice(1)) {
      history.replaceState(null, "", "#wallboard");
    }
    return this.route();
  }

  /** Signed out: every view let go (their sockets closed), the panel shown. */
  stop() {
    this.active = false;
    for (const view of this.views.values()) view.destroy();
    this.views.clear();
    $("desk").replaceChildren();
    this.showPanel();
  }

  /** Back to the panel's view (to show a customer from a view or a review). */
  toPanel() {
    if (this.current !== "panel") history.pushState(null, "", "#panel");
    this.showPanel();
  }

  route() {
    this.routing = this.routing.then(() => this.show(location.hash.slice(1)));
    return this.routing;
  }

  async show(name) {
    if (!this.active) return;
    const spec = VIEWS[name];
    // Other fragments (the skip link's) and views this user may not open: the panel.
    if (!spec || !mayOpen(spec)) {
      this.showPanel();
      return;
    }
    let view = this.views.get(name);
    if (!view) {
      const module = await spec.load();
      if (!this.active) return;
      view = new module.View({
        supervisor: isSupervisor(),
        user: currentUser(),
        openCustomer: (id) => {
          this.toPanel();
          this.openCustomer(id);
        },
      });
      this.views.set(name, view);
      $("desk").append(view.el);
    }
    this.views.get(this.current)?.hide();
    $("panes").hidden = true;
    $("desk").hidden = false;
    for (const other of this.views.values()) other.el.hidden = other !== view;
    this.current = name;
    this.mark();
    view.show();
    view.heading.focus();
  }

  showPanel() {
    this.views.get(this.current)?.hide();
    for (const view of this.views.values()) view.el.hidden = true;
    $("desk").hidden = true;
    $("panes").hidden = false;
    this.current = "panel";
    this.mark();
  }

  mark() {
    for (const link of this.links) {
      if (link.dataset.view === this.current) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
  }
}
