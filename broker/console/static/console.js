// pybroker console: polls /api/cluster once a second and redraws; read-only, no libraries.
// If this broker stops answering, it tries the addresses in ?also=host:port,... in turn.
"use strict";
const HISTORY_MS = 5 * 60 * 1000;
const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"];
const sources = [""].concat((new URLSearchParams(location.search).get("also") || "")
  .split(",").filter(Boolean).map(a => "http://" + a));
let source = 0;
const history = [];          // [{t, ends: {topic: sum of log ends}}]
const lastLag = {};          // group -> total lag at the previous poll

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const c of children) node.append(c === null || c === undefined ? "–" : c);
  return node;
}

function fill(id, rows) { document.getElementById(id).replaceChildren(...rows); }

function render(s) {
  document.getElementById("status").textContent =
    `served by broker ${s.served_by} · cluster ${s.cluster_id} · ${new Date(s.time_ms).toLocaleTimeString()}`;
  document.getElementById("status").className = "";
  document.getElementById("controller").textContent =
    `Controller: broker ${s.controller.id}, controller epoch ${s.controller.epoch}`;
  fill("brokers", s.brokers.map(b => el("li", {"data-broker": b.id},
    `broker ${b.id} ${b.host}:${b.port}` + (b.rack ? ` rack ${b.rack}` : "") +
    (b.id === s.controller.id ? " (controller)" : ""))));
  fill("coord", s.coord.map(c => el("li", {class: c.mode === "unreachable" ? "unreachable" : ""},
    `${c.address} ${c.mode}`)));
  const rows = [];
  for (const t of s.topics) for (const p of t.partitions) {
    const cls = p.offline ? "offline" : (p.under_replicated ? "under-replicated" : "");
    rows.push(el("tr", {class: cls, "data-topic": t.name, "data-partition": p.partition},
      el("td", {}, t.name), el("td", {}, String(p.partition)),
      el("td", {class: "leader"}, p.offline ? "offline" : String(p.leader)), el("td", {}, String(p.leader_epoch)),
      el("td", {}, p.replicas.join(",")), el("td", {class: "isr"}, p.isr.join(",")),
      el("td", {}, p.high_watermark === null ? null : String(p.high_watermark)),
      el("td", {}, p.log_end === null ? null : String(p.log_end)),
      el("td", {}, p.size === null ? null : `${(p.size / 1024).toFixed(1)} KiB`)));
  }
  fill("partitions-body", rows);
  fill("groups-body", s.groups.map(g => {
    const growing = g.group in lastLag && g.total_lag > lastLag[g.group];
    lastLag[g.group] = g.total_lag;
    return el("tr", {class: growing ? "lag-growing" : "", "data-group": g.group},
      el("td", {}, g.group), el("td", {}, g.state), el("td", {}, String(g.generation)),
      el("td", {}, g.members.map(m => `${m.client_id}: ${m.assignment.join(" ") || "nothing"}`).join("; ") || "none"),
      el("td", {class: "lag"}, String(g.total_lag)));
  }));
  record(s);
  drawChart();
}

function record(s) {
  const ends = {};
  for (const t of s.topics) {
    if (t.name.startsWith("__")) continue;
    const known = t.partitions.filter(p => p.log_end !== null);
    if (known.length) ends[t.name] = known.reduce((sum, p) => sum + p.log_end, 0);
  }
  history.push({t: s.time_ms, ends});
  while (history.length && history[0].t < s.time_ms - HISTORY_MS) history.shift();
}

function drawChart() {
  const svg = document.getElementById("chart");
  const topics = [...new Set(history.flatMap(h => Object.keys(h.ends)))].sort();
  const series = topics.map(topic => {
    const pts = [];
    for (let i = 1; i < history.length; i++) {
      const a = history[i - 1], b = history[i];
      if (topic in a.ends && topic in b.ends && b.t > a.t)
        pts.push([b.t, Math.max(0, (b.ends[topic] - a.ends[topic]) * 1000 / (b.t - a.t))]);
    }
    return pts;
  });
  const now = history.length ? history[history.length - 1].t : 0;
  const top = Math.max(1, ...series.flat().map(p => p[1]));
  const ns = "http://www.w3.org/2000/svg";
  const lines = series.map((pts, i) => {
    const line = document.createElementNS(ns, "polyline");
    line.setAttribute("fill", "none");
    line.setAttribute("stroke", COLORS[i % COLORS.length]);
    line.setAttribute("points", pts.map(([t, v]) =>
      `${(600 * (1 - (now - t) / HISTORY_MS)).toFixed(1)},${(155 - 145 * v / top).toFixed(1)}`).join(" "));
    return line;
  });
  const label = document.createElementNS(ns, "text");
  label.setAttribute("x", 4); label.setAttribute("y", 12); label.setAttribute("font-size", 11);
  label.textContent = `max ${top.toFixed(0)}/s`;
  svg.replaceChildren(label, ...lines);
  fill("legend", topics.map((t, i) => {
    const last = series[i].length ? series[i][series[i].length - 1][1] : 0;
    return el("span", {style: `color:${COLORS[i % COLORS.length]}`}, `${t} ${last.toFixed(0)}/s`);
  }));
}

async function poll() {
  try {
    const response = await fetch(sources[source] + "/api/cluster", {cache: "no-store"});
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    render(await response.json());
  } catch (err) {
    const status = document.getElementById("status");
    status.textContent = `no answer from ${sources[source] || location.host} (${err.message})` +
      (sources.length > 1 ? "; trying the next broker" : "; retrying");
    status.className = "stale";
    source = (source + 1) % sources.length;
  }
  setTimeout(poll, 1000);
}

poll();
