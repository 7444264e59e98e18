// The payment provider simulator's books: every charge and refund it made.

import { getJson } from "./api.js";
import { h, money, table } from "./dom.js";

export function chargeRows(charges) {
  return charges.map((charge) =>
    h(
      "tr",
      { dataset: { charge: charge.chargeId } },
      h("td", { class: "mono" }, charge.chargeId),
      h("td", {}, h("a", { href: `#/orders/${encodeURIComponent(charge.reference)}`, class: "mono" }, charge.reference)),
      h("td", { class: "num" }, money(charge.amountCents, charge.currency)),
      h("td", {}, charge.status),
    ),
  );
}

export function refundRows(refunds) {
  return refunds.map((refund) =>
    h(
      "tr",
      { dataset: { refund: refund.refundId } },
      h("td", { class: "mono" }, refund.refundId),
      h("td", { class: "mono" }, refund.chargeId),
      h("td", { class: "num" }, money(refund.amountCents)),
      h("td", {}, refund.status),
    ),
  );
}

export function ledgerView(root) {
  const charges = h("div", { id: "charges" });
  const refunds = h("div", { id: "refunds" });
  const note = h("p", { class: "muted" });
  root.append(
    h("section", { class: "panel" }, h("h2", {}, "Payment provider ledger"), note, h("h3", {}, "Charges"), charges, h("h3", {}, "Refunds"), refunds),
  );
  let shown = null;

  async function refresh() {
    const body = await getJson("/_console/api/ledger");
    const key = JSON.stringify(body);
    if (key === shown) return;
    shown = key;
    note.textContent = body.provider
      ? `${body.charges.length} charge(s), ${body.refunds.length} refund(s) at localcloud's payment provider simulator.`
      : "This localcloud talks to a payment provider it does not run: no ledger to show.";
    charges.replaceChildren(table(["Charge", "Order", "Amount", "Status"], chargeRows(body.charges), "No charges yet."));
    refunds.replaceChildren(table(["Refund", "Charge", "Amount", "Status"], refundRows(body.refunds), "No refunds yet."));
  }
  return refresh;
}
