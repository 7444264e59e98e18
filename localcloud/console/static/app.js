// The console's shell: a hash router over the views, and a poll that refreshes the view shown
// (every POLL_MS while the tab is visible), so a running order's page follows it live.

import { h } from "./dom.js";
import { alarmsView } from "./alarms.js";
import { faultsView } from "./faults.js";
import { ledgerView } from "./ledger.js";
import { orderView } from "./order.js";
import { ordersView } from "./orders.js";
import { queuesView } from "./queues.js";

const POLL_MS = 1500;

const ROUTES = [
  [/^#\/orders\/([^/?]+)$/, orderView, "orders"],
  [/^#\/(?:orders)?$/, ordersView, "orders"],
  [/^#\/queues$/, queuesView, "queues"],
  [/^#\/alarms$/, alarmsView, "alarms"],
  [/^#\/faults$/, faultsView, "faults"],
  [/^#\/ledger$/, ledgerView, "ledger"],
];

let current = null; // {view, refresh, busy}

function route() {
  const hash = window.location.hash || "#/";
  for (const [pattern, view, tab] of ROUTES) {
    const match = hash.match(pattern);
    if (match) return { view, tab, params: match.slice(1).map(decodeURIComponent) };
  }
  return null;
}

function showTab(tab) {
  for (const link of document.querySelectorAll("nav a[data-tab]")) {
    link.classList.toggle("active", link.dataset.tab === tab);
  }
}

function setLive(text, failed = false) {
  const live = document.getElementById("live");
  live.textContent = text;
  live.classList.toggle("failed", failed);
}

async function refresh() {
  const shown = current;
  if (!shown || shown.busy) return;
  shown.busy = true;
  try {
    await shown.refresh();
    if (shown === current) setLive(`live - updated ${new Date().toLocaleTimeString()}`);
  } catch (error) {
    if (shown === current) setLive(`not updated: ${error.message}`, true);
  } finally {
    shown.busy = false;
  }
}

function mount() {
  const root = document.getElementById("view");
  const found = route();
  root.replaceChildren();
  if (!found) {
    showTab(null);
    root.append(h("p", { class: "empty" }, `No console page ${window.location.hash}`));
    current = null;
    return;
  }
  showTab(found.tab);
  current = { refresh: found.view(root, ...found.params), busy: false };
  refresh();
}

window.addEventListener("hashchange", mount);
setInterval(() => {
  if (document.visibilityState === "visible") refresh();
}, POLL_MS);
mount();
