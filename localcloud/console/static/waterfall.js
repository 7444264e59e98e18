// A trace as a waterfall: one row per segment and subsegment (localcloud's
// /_localcloud/traces/<id>, X-Ray's documents flattened), offset and width by time.

import { h } from "./dom.js";

export function drawWaterfall(trace) {
  const start = trace.startTime;
  const total = Math.max(trace.durationMs || 0, 1);
  const rows = trace.spans.map((span) => {
    const offset = span.startTime !== null && span.startTime !== undefined ? ((span.startTime - start) * 1000 * 100) / total : 0;
    const width = span.durationMs !== null && span.durationMs !== undefined ? (span.durationMs * 100) / total : 100 - offset;
    const trouble = span.fault ? "fault" : span.error ? "error" : span.throttle ? "throttle" : "";
    const status = span.http && span.http.status ? ` ${span.http.status}` : "";
    return h(
      "div",
      { class: `span-row ${trouble}`, dataset: { span: span.id, origin: span.origin || "" } },
      h(
        "div",
        { class: "span-name", style: `padding-left: ${span.depth * 14}px`, title: span.origin || span.kind },
        span.name,
        status,
      ),
      h(
        "div",
        { class: "span-track" },
        h("div", {
          class: `span-bar kind-${span.kind}`,
          style: `left: ${Math.max(0, Math.min(offset, 100)).toFixed(2)}%; width: ${Math.max(width, 0.3).toFixed(2)}%`,
        }),
      ),
      h("div", { class: "span-ms num" }, span.durationMs === null || span.durationMs === undefined ? "open" : `${span.durationMs.toFixed(1)} ms`),
    );
  });
  return h(
    "div",
    { class: "waterfall", dataset: { trace: trace.id } },
    h("div", { class: "trace-title mono" }, `${trace.id} - ${(trace.durationMs || 0).toFixed(1)} ms, ${trace.spans.length} segments`),
    rows,
  );
}
