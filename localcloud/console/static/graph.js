// The state machine drawn as SVG from the layout the console API computed from the ASL
// definition (localcloud/console/graph.py), each state coloured by its status in this execution.

import { h, s } from "./dom.js";

export const STATUSES = ["succeeded", "compensated", "caught", "failed", "running", "not-run"];

function shape(node) {
  const common = { x: node.x, y: node.y, width: node.width, height: node.height };
  if (node.type === "Succeed" || node.type === "Fail") return s("rect", { ...common, rx: node.height / 2 });
  if (node.type === "Choice") return s("rect", { ...common, rx: 4, class: "choice" });
  return s("rect", { ...common, rx: 6 });
}

/** An <svg> of the execution's graph; clicking a state calls onSelect(name). */
export function drawGraph(execution, selected, onSelect) {
  const graph = execution.graph;
  const taken = new Set(execution.path.map(([a, b]) => `${a}\u2192${b}`));
  const svg = s("svg", {
    class: "graph",
    viewBox: `0 0 ${graph.width} ${graph.height}`,
    width: graph.width,
    height: graph.height,
    role: "img",
    "aria-label": `${execution.stateMachine}: ${execution.status}`,
  });
  svg.append(
    s(
      "defs",
      {},
      ["edge", "taken"].map((kind) =>
        s(
          "marker",
          { id: `arrow-${kind}`, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 8, markerHeight: 8, markerUnits: "userSpaceOnUse", orient: "auto-start-reverse" },
          s("path", { d: "M0,0 L10,5 L0,10 z", class: `arrow-${kind}` }),
        ),
      ),
    ),
  );
  for (const edge of graph.edges) {
    const wasTaken = taken.has(`${edge.source}\u2192${edge.target}`);
    svg.append(
      s(
        "path",
        {
          d: edge.path,
          class: `edge kind-${edge.kind}${wasTaken ? " taken" : ""}`,
          "marker-end": `url(#arrow-${wasTaken ? "taken" : "edge"})`,
          dataset: { source: edge.source, target: edge.target },
        },
        s("title", {}, `${edge.source} \u2192 ${edge.target}${edge.label ? ` (${edge.kind}: ${edge.label})` : ""}`),
      ),
    );
  }
  for (const node of graph.nodes) {
    const run = execution.states[node.name] || { status: "not-run", attempts: 0 };
    const group = s("g", {
      class: `state status-${run.status}${node.main ? " main" : " off-main"}${selected === node.name ? " selected" : ""}`,
      tabindex: 0,
      role: "button",
      dataset: { state: node.name, status: run.status, type: node.type },
    });
    group.append(
      shape(node),
      s("text", { x: node.x + 10, y: node.y + node.height / 2 + 4, class: "name" }, node.name),
      s(
        "text",
        { x: node.x + node.width - 8, y: node.y + node.height / 2 + 4, class: "mark", "text-anchor": "end" },
        run.attempts > 1 ? `x${run.attempts}` : "",
      ),
      s("title", {}, `${node.name} (${node.type}): ${run.status}${node.comment ? `\n${node.comment}` : ""}`),
    );
    group.addEventListener("click", () => onSelect(node.name));
    group.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") onSelect(node.name);
    });
    svg.append(group);
  }
  return svg;
}

export function legend() {
  return h(
    "div",
    { class: "legend" },
    STATUSES.map((status) => h("span", { class: `key status-${status}` }, h("i", {}), status)),
  );
}
