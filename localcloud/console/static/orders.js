// Orders, newest first, with their status; a search by (part of) the order id.

import { getJson } from "./api.js";
import { badge, h, money, table, when } from "./dom.js";

export function ordersView(root) {
  const search = h("input", {
    id: "order-search",
    type: "search",
    placeholder: "Search by order id",
    autocomplete: "off",
  });
  const count = h("span", { class: "muted" });
  const list = h("div", { id: "orders" });
  root.append(
    h("section", { class: "panel" }, h("div", { class: "toolbar" }, h("h2", {}, "Orders"), search, count), list),
  );
  let shown = null;

  async function refresh() {
    const query = search.value.trim();
    const body = await getJson(`/_console/api/orders?search=${encodeURIComponent(query)}&limit=200`);
    const key = JSON.stringify([query, body]);
    if (key === shown) return;
    shown = key;
    count.textContent = `${body.orders.length} of ${body.total}`;
    const rows = body.orders.map((order) =>
      h(
        "tr",
        { dataset: { orderId: order.orderId, status: order.status || "" } },
        h("td", {}, h("a", { href: `#/orders/${encodeURIComponent(order.orderId)}`, class: "mono" }, order.orderId)),
        h("td", {}, badge(order.status)),
        h("td", { class: "num" }, money(order.totalCents, order.currency)),
        h("td", {}, when(order.createdAt)),
        h("td", {}, when(order.updatedAt)),
        h("td", {}, order.reason || ""),
      ),
    );
    list.replaceChildren(
      table(["Order", "Status", "Total", "Placed", "Last change", "Reason"], rows, query ? "No order id contains that." : "No orders yet: place one through the API."),
    );
  }

  let typing = null;
  search.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => refresh().catch(() => {}), 200);
  });
  return refresh;
}
