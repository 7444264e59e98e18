// CloudWatch alarms (as localcloud evaluates them) and their state, ALARM first.

import { getJson } from "./api.js";
import { badge, h, table, when } from "./dom.js";

export function alarmsView(root) {
  const list = h("div", { id: "alarms" });
  const summary = h("span", { class: "muted" });
  root.append(h("section", { class: "panel" }, h("div", { class: "toolbar" }, h("h2", {}, "Alarms"), summary), list));
  let shown = null;

  async function refresh() {
    const body = await getJson("/_console/api/alarms");
    const key = JSON.stringify(body);
    if (key === shown) return;
    shown = key;
    const firing = body.alarms.filter((alarm) => alarm.state === "ALARM").length;
    summary.textContent = `${firing} in ALARM of ${body.alarms.length}`;
    const rows = body.alarms.map((alarm) =>
      h(
        "tr",
        { dataset: { alarm: alarm.name, state: alarm.state || "" } },
        h("td", {}, h("span", { class: "mono" }, alarm.name), alarm.description ? h("div", { class: "muted small" }, alarm.description) : ""),
        h("td", {}, badge(alarm.state)),
        h("td", { class: "small" }, alarm.metric || "-"),
        h("td", { class: "small" }, alarm.reason || ""),
        h("td", {}, when(alarm.updated)),
      ),
    );
    list.replaceChildren(table(["Alarm", "State", "Metric", "Reason", "Since"], rows, "The template declares no alarms."));
  }
  return refresh;
}
