// One order's whole story: its status and event history, each saga execution drawn as the state
// machine's graph with every state's status (click one for its input, output and error), its
// trace as a waterfall, the emails sent, the provider's charges and refunds, and its log lines.

import { ApiError, getJson, getJsonOrNull } from "./api.js";
import { badge, h, money, pretty, section, table, when } from "./dom.js";
import { drawGraph, legend } from "./graph.js";
import { chargeRows, refundRows } from "./ledger.js";
import { drawWaterfall } from "./waterfall.js";

const ATTENTION = ["failed", "caught"]; // the states to show first, once the run ended

// A Lambda error's cause is {errorMessage, errorType, stackTrace}: the message first, the
// rest folded away.
function errorBox(error, cause) {
  const message = cause && typeof cause === "object" ? cause.errorMessage : null;
  return h(
    "div",
    { class: "error-box" },
    h("strong", { class: "error-name" }, error),
    message ? h("div", { class: "error-message" }, message) : "",
    cause !== null && cause !== undefined
      ? h("details", {}, h("summary", {}, "cause"), h("pre", { class: "cause" }, pretty(cause)))
      : "",
  );
}

function stateDetail(execution, name) {
  if (!name) {
    return h("p", { class: "muted" }, "Click a state to see its input, output and error.");
  }
  const run = execution.states[name];
  const node = execution.graph.nodes.find((n) => n.name === name);
  return h(
    "div",
    { class: "state-detail", dataset: { state: name, status: run.status } },
    h("h3", {}, name, " ", badge(run.status)),
    node && node.comment ? h("p", { class: "muted small" }, node.comment) : "",
    h(
      "dl",
      {},
      h("dt", {}, "Type"),
      h("dd", {}, node ? node.type : "-"),
      h("dt", {}, "Entered"),
      h("dd", {}, when(run.entered)),
      h("dt", {}, "Left"),
      h("dd", {}, when(run.exited)),
      h("dt", {}, "Attempts"),
      h("dd", {}, run.attempts || "-", run.retried.length ? ` (retried after ${run.retried.join(", ")})` : ""),
    ),
    run.error ? errorBox(run.error, run.cause) : "",
    h("h4", {}, "Input"),
    h("pre", { class: "io input" }, pretty(run.input)),
    h("h4", {}, "Output"),
    h("pre", { class: "io output" }, pretty(run.output)),
  );
}

function defaultSelection(execution) {
  const order = execution.status === "RUNNING" ? ["running", ...ATTENTION] : ATTENTION;
  for (const status of order) {
    const found = Object.values(execution.states).find((run) => run.status === status);
    if (found) return found.name;
  }
  return null;
}

export function orderView(root, orderId) {
  const title = h("div", { class: "order-title" });
  const saga = h("div", { id: "executions" });
  const trace = h("div", { id: "trace" }, h("p", { class: "empty" }, "loading..."));
  const events = h("div", { id: "events" });
  const emails = h("div", { id: "emails" });
  const payments = h("div", { id: "payments" });
  const logs = h("div", { id: "logs" }, h("p", { class: "empty" }, "loading..."));
  root.append(
    h("p", {}, h("a", { href: "#/" }, "\u2190 all orders")),
    title,
    section("Saga", legend(), saga),
    section("Trace", trace),
    section("Event history", events),
    section("Emails sent", emails),
    section("Payments", payments),
    section("Log lines", logs),
  );
  const selected = new Map(); // execution arn -> state name shown
  const pinned = new Set(); // executions whose state was chosen by a click
  const shown = {};

  function changed(part, value) {
    const key = JSON.stringify(value);
    if (shown[part] === key) return false;
    shown[part] = key;
    return true;
  }

  function renderExecutions(order) {
    if (!order.executions.length) {
      saga.replaceChildren(h("p", { class: "empty" }, "No execution started for this order yet."));
      return;
    }
    saga.replaceChildren(
      ...order.executions.map((execution) => {
        // Until a state is clicked, the one to look at follows the run (running, then where
        // it failed or was caught).
        if (!pinned.has(execution.arn)) selected.set(execution.arn, defaultSelection(execution));
        const detail = h("div", { class: "detail" });
        const card = h("div", {
          class: "execution",
          dataset: { execution: execution.name, stateMachine: execution.stateMachine, status: execution.status },
        });
        const select = (name) => {
          selected.set(execution.arn, name);
          pinned.add(execution.arn);
          shown.executions = null;
          renderExecutions(order);
        };
        detail.append(stateDetail(execution, selected.get(execution.arn)));
        card.append(
          h(
            "h3",
            {},
            execution.stateMachine,
            " ",
            badge(execution.status),
            h("span", { class: "muted small" }, ` ${execution.name} - started ${when(execution.startDate)}${execution.stopDate ? `, ended ${when(execution.stopDate)}` : ""}`),
          ),
          execution.error ? h("p", { class: "error-box" }, `${execution.error}: ${execution.cause || ""}`) : "",
          execution.note ? h("p", { class: "muted note" }, execution.note) : "",
          h("div", { class: "execution-body" }, h("div", { class: "graph-box" }, drawGraph(execution, selected.get(execution.arn), select)), detail),
        );
        return card;
      }),
    );
  }

  function renderOrder(order) {
    title.replaceChildren(
      h("h1", {}, "Order ", h("span", { class: "mono", id: "order-id" }, order.orderId), " ", badge(order.status)),
      h(
        "p",
        { class: "muted" },
        [
          `Placed ${when(order.createdAt)}`,
          `last change ${when(order.updatedAt)}`,
          order.totalCents !== null && order.totalCents !== undefined ? `total ${money(order.totalCents, order.currency)}` : null,
          order.reason ? `reason ${order.reason}` : null,
        ]
          .filter(Boolean)
          .join(" \u00b7 "),
      ),
    );
    if (changed("executions", order.executions)) renderExecutions(order);
    if (changed("events", order.events)) {
      events.replaceChildren(
        table(
          ["#", "Event", "When", "Correlation id", "Data"],
          order.events.map((event) =>
            h(
              "tr",
              { dataset: { event: event.type } },
              h("td", { class: "mono" }, event.sk),
              h("td", {}, event.type),
              h("td", {}, when(event.occurredAt)),
              h("td", { class: "mono small" }, event.correlationId || "-"),
              h("td", {}, h("details", {}, h("summary", {}, "data"), h("pre", {}, pretty(event.data)))),
            ),
          ),
          "No event stored for this order.",
        ),
      );
    }
    if (changed("emails", order.emails)) {
      emails.replaceChildren(
        table(
          ["To", "Subject", "Body"],
          order.emails.map((email) =>
            h(
              "tr",
              { class: "email" },
              h("td", {}, ((email.destinations || {}).ToAddresses || []).join(", ")),
              h("td", {}, email.subject || ""),
              h("td", {}, h("pre", { class: "body" }, email.body || "")),
            ),
          ),
          "No email sent about this order (yet).",
        ),
      );
    }
    if (changed("payments", order.payments)) {
      const books = order.payments;
      payments.replaceChildren(
        books.provider ? "" : h("p", { class: "muted" }, "The payment provider is not localcloud's simulator."),
        h("h3", {}, "Charges"),
        table(["Charge", "Order", "Amount", "Status"], chargeRows(books.charges), "No charge made."),
        h("h3", {}, "Refunds"),
        table(["Refund", "Charge", "Amount", "Status"], refundRows(books.refunds), "No refund made."),
      );
    }
  }

  async function refreshTrace() {
    const story = await getJsonOrNull(`/_localcloud/orders/${encodeURIComponent(orderId)}/story`);
    const ids = (story && story.traceIds) || [];
    const traces = (await Promise.all(ids.map((id) => getJsonOrNull(`/_localcloud/traces/${encodeURIComponent(id)}`))))
      .filter(Boolean)
      .sort((a, b) => a.startTime - b.startTime);
    if (!changed("trace", traces)) return;
    trace.replaceChildren(...(traces.length ? traces.map(drawWaterfall) : [h("p", { class: "empty", id: "no-trace" }, "no trace recorded")]));
  }

  async function refreshLogs() {
    const body = await getJsonOrNull(`/_localcloud/logs?order=${encodeURIComponent(orderId)}&limit=500`);
    const lines = (body && body.lines) || [];
    if (!changed("logs", lines)) return;
    logs.replaceChildren(
      table(
        ["Time", "Function", "Level", "Message"],
        lines.map((line) =>
          h(
            "tr",
            { class: `log level-${(line.level || "").toLowerCase()}` },
            h("td", { class: "mono small" }, line.time || ""),
            h("td", {}, line.function || ""),
            h("td", {}, line.level || ""),
            h("td", { class: "mono small" }, line.message || line.line || ""),
          ),
        ),
        "no log lines recorded",
      ),
    );
  }

  async function refresh() {
    let order;
    try {
      order = await getJson(`/_console/api/orders/${encodeURIComponent(orderId)}`);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        title.replaceChildren(h("h1", {}, "Order ", h("span", { class: "mono" }, orderId)), h("p", { class: "empty" }, error.message));
        return;
      }
      throw error;
    }
    renderOrder(order);
    const side = await Promise.allSettled([refreshTrace(), refreshLogs()]);
    const failed = side.find((result) => result.status === "rejected");
    if (failed) throw failed.reason;
  }
  return refresh;
}
