// The faults injected now (localcloud's /_localcloud/faults): each rule and how often it fired.

import { getJson } from "./api.js";
import { h, pretty, table } from "./dom.js";

export function faultsView(root) {
  const rules = h("div", { id: "faults" });
  const counts = h("div", { id: "fault-counts" });
  root.append(
    h(
      "section",
      { class: "panel" },
      h("h2", {}, "Faults injected"),
      h("p", { class: "muted" }, "Set with localcloud run --faults FILE, or POST/PATCH/DELETE /_localcloud/faults."),
      rules,
      h("h3", {}, "Fired so far"),
      counts,
    ),
  );
  let shown = null;

  async function refresh() {
    const body = await getJson("/_localcloud/faults");
    const key = JSON.stringify(body);
    if (key === shown) return;
    shown = key;
    const ruleRows = (body.rules || []).map((rule) => {
      const { service, operation, ...rest } = rule;
      return h(
        "tr",
        { dataset: { faultService: service || "" } },
        h("td", { class: "mono" }, service || "*"),
        h("td", { class: "mono" }, operation || "*"),
        h("td", {}, h("pre", {}, pretty(rest))),
      );
    });
    rules.replaceChildren(table(["Service", "Operation", "Rule"], ruleRows, "No fault rules: every call is answered normally."));
    const fired = Object.entries(body.injected || {}).map(([name, count]) =>
      h("tr", {}, h("td", { class: "mono" }, name), h("td", { class: "num" }, pretty(count))),
    );
    counts.replaceChildren(table(["Fault", "Times"], fired, "None fired yet."));
  }
  return refresh;
}
