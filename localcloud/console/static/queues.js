// Queues and their dead-letter queues, with depth; a DLQ fed by one queue has a redrive button
// that moves its messages back (POST /_console/api/queues/<name>/redrive).

import { getJson, postJson } from "./api.js";
import { h, table } from "./dom.js";

function kind(queue) {
  if (queue.deadLetterFor.length) return `DLQ of ${queue.deadLetterFor.join(", ")}`;
  if (queue.onFailureFor.length) return `on-failure destination of ${queue.onFailureFor.join(", ")}`;
  if (queue.deadLetterQueue) return `queue (DLQ ${queue.deadLetterQueue} after ${queue.maxReceiveCount} receives)`;
  return "queue";
}

export function queuesView(root) {
  const list = h("div", { id: "queues" });
  const result = h("p", { id: "redrive-result", class: "muted", role: "status" });
  root.append(h("section", { class: "panel" }, h("h2", {}, "Queues and dead-letter queues"), result, list));
  let shown = null;

  async function redrive(name, button) {
    button.disabled = true;
    try {
      const moved = await postJson(`/_console/api/queues/${encodeURIComponent(name)}/redrive`);
      result.textContent = `Moved ${moved.moved} message(s) from ${moved.source} back to ${moved.destination}.`;
      result.classList.remove("failed");
    } catch (error) {
      result.textContent = `Redrive of ${name} failed: ${error.message}`;
      result.classList.add("failed");
    } finally {
      shown = null;
      await refresh();
    }
  }

  async function refresh() {
    const body = await getJson("/_console/api/queues");
    const key = JSON.stringify(body);
    if (key === shown) return;
    shown = key;
    const rows = body.queues.map((queue) => {
      const dead = queue.deadLetterFor.length || queue.onFailureFor.length;
      const button = queue.redrivable
        ? h("button", { type: "button", class: "redrive", disabled: queue.visible === 0 || undefined }, "Redrive")
        : "";
      if (button) button.addEventListener("click", () => redrive(queue.name, button));
      return h(
        "tr",
        { dataset: { queue: queue.name, depth: String(queue.visible) }, class: dead && queue.visible ? "attention" : undefined },
        h("td", { class: "mono" }, queue.name),
        h("td", {}, kind(queue)),
        h("td", { class: "num depth" }, queue.visible),
        h("td", { class: "num" }, queue.inFlight),
        h("td", { class: "num" }, queue.delayed),
        h("td", {}, button),
      );
    });
    list.replaceChildren(table(["Queue", "What it is", "Messages", "In flight", "Delayed", ""], rows));
  }
  return refresh;
}
