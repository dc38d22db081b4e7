// The operations page: reads the balancer's GET /status once a second and shows the cluster, its nodes, Redis and
// the balancer itself. Node names, addresses, versions and problems come from the network: every string is put in as
// text (textContent) or as an attribute value, never as HTML. One file and no build step, like the chat page: it is
// served as it is, under a CSP that allows only this script and ops.css (so no inline style either: looks are
// classes in ops.css).
// Every element that shows a number also carries that number as it came, in data-value ("" when unknown), so a test
// can compare exact values whatever the display rounds to.
"use strict";

const $ = (id) => document.getElementById(id);
const SVG_NS = "http://www.w3.org/2000/svg";
const REFRESH_MS = 1000;    // between the end of one request and the start of the next, unless /status says otherwise
const TIMEOUT_MS = 1500;    // a request not answered by then counts as a failure
const WINDOW_S = 300;       // the chart's time span
const GAP_S = 5;            // history points further apart than this are not joined by a line
const DASH = "—";

const state = {
  last: null,               // the last status read
  lastOkAt: null,           // when it was read (this browser's clock)
  failingSince: null,       // the first failure after the last success (this browser's clock), or null
  failure: null,            // why the last request failed
  rows: new Map(),          // node name and address -> its <tr> (a node restarted elsewhere is a second row)
  problemsShown: "",        // the problems now in the banner, to rewrite it (and have it announced) only on a change
};

// --- what the network says, checked: a number is a finite number, a string is a string, or else null ---
const num = (v) => (typeof v === "number" && Number.isFinite(v) ? v : null);
// Bidirectional controls are dropped from what is shown, so that a name cannot turn the rest of a line around.
const BIDI = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const str = (v, max = 300) => {
  if (typeof v !== "string") return null;
  const shown = v.replace(BIDI, "");
  return shown.length > max ? shown.slice(0, max) + "…" : shown;
};
const obj = (v) => (v !== null && typeof v === "object" && !Array.isArray(v) ? v : {});
const list = (v) => (Array.isArray(v) ? v.map(obj) : []);

// --- formats ---
const whole = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const oneDecimal = new Intl.NumberFormat("en-US", { minimumFractionDigits: 1, maximumFractionDigits: 1 });

function count(v) { return v === null ? DASH : whole.format(v); }
function amount(v) { return v === null ? DASH : v === 0 ? "0" : Math.abs(v) < 10 ? oneDecimal.format(v) : whole.format(v); }
function perSecond(v) { return v === null ? DASH : `${amount(v)}/s`; }
function percent(v) { return v === null ? DASH : `${amount(v)}%`; }

function bytes(v) {
  if (v === null) return DASH;
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let x = v, unit = 0;
  while (Math.abs(x) >= 1024 && unit < units.length - 1) { x /= 1024; unit += 1; }
  if (unit === 0) return `${whole.format(x)} B`;
  return `${Math.abs(x) < 100 ? oneDecimal.format(x) : whole.format(x)} ${units[unit]}`;
}

// A short time: a round trip, a latency.
function latency(seconds) {
  if (seconds === null) return DASH;
  const ms = seconds * 1000;
  if (ms === 0) return "0 ms";
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${whole.format(ms)} ms`;
  return `${amount(seconds)} s`;
}

// A long time: an uptime, how long ago.
function duration(seconds) {
  if (seconds === null) return DASH;
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) {
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    return m ? `${h} h ${m} min` : `${h} h`;
  }
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600);
  return h ? `${d} d ${h} h` : `${d} d`;
}

function clock(date) {
  const two = (n) => String(n).padStart(2, "0");
  return `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`;
}

// Shows `text` in `el` and the raw value in its data-value, touching the DOM only on a change.
function show(el, text, raw) {
  const value = raw === null || raw === undefined ? "" : String(raw);
  if (el.textContent !== text) el.textContent = text;
  if (el.dataset.value !== value) el.dataset.value = value;
}

function setData(el, name, raw) {
  el.dataset[name] = raw === null || raw === undefined ? "" : String(raw);
}

// --- the request, once a second ---
async function poll() {
  let delay = REFRESH_MS;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
  let status = null;
  try {
    const response = await fetch("/status", { cache: "no-store", signal: controller.signal, headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    status = await response.json();
    if (status === null || typeof status !== "object" || Array.isArray(status)) throw new Error("the answer is not a status");
  } catch (error) {
    status = null;
    if (state.failingSince === null) state.failingSince = new Date();
    state.failure = error && error.name === "AbortError" ? `no answer within ${TIMEOUT_MS / 1000} s` : String((error && error.message) || error);
  } finally {
    clearTimeout(timer);
  }
  if (status !== null) {
    state.last = status;
    state.lastOkAt = new Date();
    state.failingSince = null;
    state.failure = null;
    const refresh = num(status.refreshSeconds);
    if (refresh !== null && refresh >= 0.5 && refresh <= 60) delay = refresh * 1000;
  }
  try {
    render(status !== null);
  } catch (error) {
    console.error(error);
  }
  setTimeout(poll, delay);
}

// --- rendering ---
function render(fresh) {
  const s = state.last;
  $("main").classList.toggle("stale", state.failingSince !== null);
  if (state.lastOkAt) $("updated").textContent = `updated ${clock(state.lastOkAt)}`;
  renderProblems();
  if (!fresh || s === null) return;
  const nodes = list(s.nodes);
  renderCluster(obj(s.cluster), nodes);
  renderChart();
  renderNodes(nodes);
  renderRedis(obj(s.redis), obj(s.cluster));
  renderBalancer(obj(s.balancer));
}

function names(nodes) {
  const shown = nodes.slice(0, 5).map((n) => str(n.node, 80) || "(no name)");
  return nodes.length > shown.length ? `${shown.join(", ")} and ${nodes.length - shown.length} more` : shown.join(", ");
}

function problems() {
  const found = [];
  if (state.failingSince !== null) found.push(`The balancer is not answering (since ${clock(state.failingSince)})`);
  const s = state.last;
  if (s === null) return found;
  // From the last answer: while the balancer is silent, say how old that is.
  const asOf = state.failingSince !== null ? ` (at ${clock(state.lastOkAt)})` : "";
  const redis = obj(s.redis);
  if (redis.configured === true && redis.reachable !== true) {
    found.push(`Redis cannot be reached: ${str(redis.problem) ?? "no reason given"}${asOf}`);
  }
  const nodes = list(s.nodes);
  const down = nodes.filter((n) => n.state === "down");
  if (down.length > 0) found.push(`${down.length} ${down.length === 1 ? "node" : "nodes"} down: ${names(down)}${asOf}`);
  const silent = nodes.filter((n) => n.state !== "down" && n.reachable === false);
  if (silent.length > 0) {
    found.push(`${silent.length} ${silent.length === 1 ? "node does not report its" : "nodes do not report their"} status: ${names(silent)}${asOf}`);
  }
  return found;
}

function renderProblems() {
  const found = problems();
  const key = found.join("\n");
  if (key === state.problemsShown) return;
  state.problemsShown = key;
  const items = found.map((text) => {
    const li = document.createElement("li");
    li.textContent = text;
    return li;
  });
  $("problems").replaceChildren(...items);
  $("problem").classList.toggle("hidden", found.length === 0);
}

function renderCluster(cluster, nodes) {
  const up = num(cluster.nodesUp), total = num(cluster.nodes);
  const draining = nodes.filter((n) => n.state === "draining").length;
  const down = nodes.filter((n) => n.state === "down").length;
  const el = $("cluster-nodes");
  show(el, up !== null && total !== null ? `${count(up)} of ${count(total)} up` : DASH, up);
  setData(el, "total", total);
  el.classList.toggle("bad", down > 0);
  el.classList.toggle("warn", down === 0 && up !== null && total !== null && up < total);
  const notes = [];
  if (down > 0) notes.push(`${down} down`);
  if (draining > 0) notes.push(`${draining} draining`);
  $("cluster-nodes-note").textContent = notes.join(", ");
  const clients = num(cluster.clients);
  show($("cluster-clients"), count(clients), clients);
  const messages = num(cluster.messagesPerSecond);
  show($("cluster-messages"), perSecond(messages), messages);
  const deliveries = num(cluster.deliveriesPerSecond);
  show($("cluster-deliveries"), perSecond(deliveries), deliveries);
  // The archive: how far behind the rooms the archiving node is, and what it writes; hidden without one.
  const lag = num(cluster.archiveLagSeconds), archived = num(cluster.archivedPerSecond);
  $("archive-tile").hidden = cluster.archivingNode == null;
  const archiveEl = $("cluster-archive");
  show(archiveEl, lag === null ? DASH : `${lag < 10 ? lag.toFixed(1) : Math.round(lag)} s behind`, lag);
  archiveEl.classList.toggle("warn", lag !== null && lag >= 5);
  $("cluster-archive-note").textContent = cluster.archivingNode == null ? "" : `${perSecond(archived)} archived, by ${cluster.archivingNode}`;
}

// --- the chart: one lane per series, each with its own scale (deliveries can be a thousand times the messages) ---
const SERIES = [
  { key: "messagesPerSecond", title: "Messages/s", cls: "messages", format: amount },
  { key: "deliveriesPerSecond", title: "Deliveries/s", cls: "deliveries", format: amount },
  { key: "clients", title: "Clients", cls: "clients", format: count },
];
const LANE_HEAD = 18, LANE_PLOT = 44, LANE_GAP = 12, AXIS = 16;

function svg(name, attributes, text) {
  const el = document.createElementNS(SVG_NS, name);
  for (const [key, value] of Object.entries(attributes)) el.setAttribute(key, String(value));
  if (text !== undefined) el.textContent = text;
  return el;
}

function renderChart() {
  const chart = $("chart");
  const s = state.last;
  if (s === null) return;
  const width = Math.max(240, Math.round(chart.getBoundingClientRect().width) || 600);
  const height = SERIES.length * (LANE_HEAD + LANE_PLOT + LANE_GAP) - LANE_GAP + AXIS;
  chart.setAttribute("viewBox", `0 0 ${width} ${height}`);
  chart.setAttribute("width", String(width));
  chart.setAttribute("height", String(height));

  const now = num(s.time) ?? Date.now() / 1000;
  const start = now - WINDOW_S;
  const history = list(s.history)
    .filter((p) => num(p.time) !== null && p.time >= start - GAP_S && p.time <= now + GAP_S)
    .sort((a, b) => a.time - b.time);
  const left = 2, right = width - 2;
  const x = (t) => left + (Math.min(Math.max(t, start), now) - start) / WINDOW_S * (right - left);
  const parts = [];
  const described = [];

  SERIES.forEach((series, lane) => {
    const top = lane * (LANE_HEAD + LANE_PLOT + LANE_GAP);
    const plotTop = top + LANE_HEAD, plotBottom = plotTop + LANE_PLOT;
    const values = history.map((p) => num(p[series.key])).filter((v) => v !== null);
    const peak = values.length > 0 ? Math.max(...values) : null;
    const latest = values.length > 0 ? values[values.length - 1] : null;
    const scale = peak !== null && peak > 0 ? peak : 1;
    parts.push(svg("text", { x: 0, y: top + 12, class: "lane-title" }, series.title));
    parts.push(svg("text", { x: width, y: top + 12, "text-anchor": "end", class: "lane-value" },
      peak === null ? "no data" : `now ${series.format(latest)} · max ${series.format(peak)}`));
    for (let minute = 1; minute < WINDOW_S / 60; minute += 1) {
      const gx = Math.round(x(now - minute * 60)) + 0.5;
      parts.push(svg("line", { x1: gx, x2: gx, y1: plotTop, y2: plotBottom, class: "grid" }));
    }
    parts.push(svg("line", { x1: left, x2: right, y1: plotTop + 0.5, y2: plotTop + 0.5, class: "grid" }));
    parts.push(svg("line", { x1: left, x2: right, y1: plotBottom + 0.5, y2: plotBottom + 0.5, class: "base" }));

    // A line per run of points without a gap (a restarted balancer, a missed second or more).
    let run = [], previous = null;
    const flush = () => {
      if (run.length === 1) run.push(run[0]);     // a lone point: a dot (round line caps)
      if (run.length > 0) parts.push(svg("polyline", { points: run.join(" "), class: `series series-${series.cls}` }));
      run = [];
    };
    for (const point of history) {
      const value = num(point[series.key]);
      if (value === null || (previous !== null && point.time - previous > GAP_S)) flush();
      if (value !== null) {
        const y = plotBottom - Math.max(0, value) / scale * LANE_PLOT;
        run.push(`${x(point.time).toFixed(1)},${y.toFixed(1)}`);
      }
      previous = point.time;
    }
    flush();
    described.push(peak === null ? `${series.title}: no data` : `${series.title}: now ${series.format(latest)}, max ${series.format(peak)}`);
  });

  // On a narrow chart every other minute is labelled.
  const axisY = height - 3, every = width < 480 ? 2 : 1;
  for (let minute = WINDOW_S / 60; minute >= 0; minute -= 1) {
    if (minute !== 0 && (WINDOW_S / 60 - minute) % every !== 0) continue;
    const anchor = minute === WINDOW_S / 60 ? "start" : minute === 0 ? "end" : "middle";
    parts.push(svg("text", { x: x(now - minute * 60), y: axisY, "text-anchor": anchor, class: "axis" },
      minute === 0 ? "now" : `−${minute} min`));
  }
  if (history.length === 0) {
    parts.push(svg("text", { x: width / 2, y: (height - AXIS) / 2, "text-anchor": "middle", class: "empty" }, "No history yet"));
  }
  chart.replaceChildren(...parts);
  chart.setAttribute("aria-label", `Last 5 minutes. ${described.join(". ")}.`);
}

// --- nodes: one row each, kept across updates (found by name, never by a selector built from a name) ---
const FIELDS = [
  { field: "clients", label: "Clients", key: "clients", format: count },
  { field: "rooms", label: "Rooms", key: "rooms", format: count },
  { field: "messagesIn", label: "In/s", key: "messagesInPerSecond", format: amount },
  { field: "messagesOut", label: "Out/s", key: "messagesOutPerSecond", format: amount },
  { field: "slowDrops", label: "Slow drops", key: "slowConsumerDrops", format: count },
  { field: "redisRtt", label: "Redis RTT", key: "redisRoundTripSeconds", format: latency },
  { field: "cpu", label: "CPU", key: "cpuPercent", format: percent },
  { field: "memory", label: "Memory", key: "residentBytes", format: bytes },
  { field: "fanoutP99", label: "Fan-out p99", key: "fanoutP99Seconds", format: latency },
  // Nodes of two versions side by side are a rolling upgrade under way (or one that stopped halfway).
  { field: "version", label: "Version", key: "version", format: (value) => value ?? DASH, text: true },
];
const STATES = new Set(["up", "draining", "down"]);

function newRow(name, address) {
  const tr = document.createElement("tr");
  tr.dataset.node = name;
  tr.dataset.address = address;
  const th = document.createElement("th");
  th.scope = "row";
  th.className = "node";
  for (const cls of ["node-name", "node-address", "node-problem"]) {
    const span = document.createElement("span");
    span.className = cls;
    th.append(span);
  }
  th.firstChild.textContent = str(name) || "(no name)";
  tr.append(th);
  for (const { field, label } of [{ field: "state", label: "State" }, ...FIELDS]) {
    const td = document.createElement("td");
    td.dataset.field = field;
    td.dataset.label = label;
    td.dataset.value = "";
    tr.append(td);
  }
  return tr;
}

function renderNodes(nodes) {
  const body = $("nodes");
  const seen = new Set();
  let index = 0;
  for (const node of nodes) {
    const name = typeof node.node === "string" ? node.node : String(node.node ?? "");
    const address = typeof node.address === "string" ? node.address : "";
    const key = name + "\n" + address;
    if (seen.has(key)) continue;                // the same node twice: the first is shown
    seen.add(key);
    let tr = state.rows.get(key);
    if (!tr) { tr = newRow(name, address); state.rows.set(key, tr); }
    updateRow(tr, node);
    if (body.children[index] !== tr) body.insertBefore(tr, body.children[index] ?? null);
    index += 1;
  }
  for (const [key, tr] of state.rows) {
    if (!seen.has(key)) { tr.remove(); state.rows.delete(key); }
  }
  $("nodes-empty").classList.toggle("hidden", seen.size > 0);
  body.closest(".table-wrap").classList.toggle("hidden", seen.size === 0);
}

function updateRow(tr, node) {
  const reachable = node.reachable !== false;
  const problem = reachable ? null : str(node.problem) ?? "does not report its status";
  tr.classList.toggle("unreachable", !reachable);
  const th = tr.firstChild;
  const address = str(node.address) ?? "";
  if (th.children[1].textContent !== address) th.children[1].textContent = address;
  if (th.children[2].textContent !== (problem ?? "")) th.children[2].textContent = problem ?? "";
  if (problem === null) th.removeAttribute("title"); else th.title = problem;

  const stateCell = tr.querySelector('td[data-field="state"]');
  const nodeState = str(node.state, 40);
  const known = STATES.has(nodeState) ? nodeState : "unknown";
  show(stateCell, nodeState ?? "unknown", nodeState);
  const cls = `state state-${known}`;
  if (stateCell.className !== cls) stateCell.className = cls;
  if (problem === null) stateCell.removeAttribute("title"); else stateCell.title = problem;

  for (const { field, key, format, text } of FIELDS) {
    const cell = tr.querySelector(`td[data-field="${field}"]`);
    const value = text ? str(node[key], 32) : num(node[key]);
    show(cell, reachable ? format(value) : DASH, value);
  }
}

// --- Redis ---
function renderRedis(redis, cluster) {
  const configured = redis.configured === true;
  const reachable = redis.reachable === true;
  const note = $("redis-note"), badge = $("redis-state");
  const problem = str(redis.problem) ?? "no reason given";
  if (!configured) {
    note.textContent = "Not configured (the balancer has a fixed node list)";
  } else if (!reachable) {
    note.textContent = `Cannot be reached: ${problem}`;
  }
  note.classList.toggle("hidden", configured && reachable);
  note.classList.toggle("bad", configured && !reachable);
  $("redis-stats").classList.toggle("hidden", !configured);
  badge.textContent = !configured ? "not configured" : reachable ? "reachable" : "unreachable";
  badge.className = `badge state ${!configured ? "state-unknown" : reachable ? "state-up" : "state-down"}`;

  const used = num(redis.usedMemoryBytes), max = num(redis.maxMemoryBytes);
  const memory = $("redis-memory");
  let text = bytes(used), share = null;
  if (used !== null && max !== null && max > 0) {
    share = used / max * 100;
    text = `${bytes(used)} of ${bytes(max)} (${share > 0 && share < 1 ? "<1" : Math.round(share)}%)`;
  } else if (used !== null && max === 0) {
    text = `${bytes(used)} (no limit)`;
  }
  show(memory, text, used);
  setData(memory, "max", max);
  memory.classList.toggle("warn", share !== null && share >= 75 && share < 90);
  memory.classList.toggle("bad", share !== null && share >= 90);

  // Nodes that report a Redis round trip have their connection up; the rest have it down or do not report.
  const nodesConnected = num(redis.nodesConnected), nodesUp = num(cluster?.nodesUp);
  show($("redis-nodes"), nodesConnected === null ? DASH
    : nodesUp === null ? count(nodesConnected) : `${count(nodesConnected)} of ${count(nodesUp)} up`, nodesConnected);
  const clients = num(redis.connectedClients);
  show($("redis-clients"), count(clients), clients);
  const commands = num(redis.commandsPerSecond);
  show($("redis-commands"), perSecond(commands), commands);
  const uptime = num(redis.uptimeSeconds);
  show($("redis-uptime"), duration(uptime), uptime);
  const reconnect = num(redis.lastReconnectSecondsAgo);
  show($("redis-reconnect"), reconnect === null ? "none since the nodes started" : `${duration(reconnect)} ago`, reconnect);
  const version = str(redis.version, 64), shards = num(redis.shards);
  // A Redis Cluster's figures add up its primaries'.
  show($("redis-version"), version === null ? DASH : shards !== null && shards > 1 ? `${version}, ${count(shards)} primaries` : version, version);
}

// --- the balancer ---
function renderBalancer(balancer) {
  const connections = num(balancer.connections), chat = num(balancer.chatConnections), http = num(balancer.httpConnections);
  const el = $("balancer-connections");
  let text = count(connections);
  if (connections !== null && chat !== null && http !== null) text += ` (${count(chat)} chat, ${count(http)} HTTP)`;
  show(el, text, connections);
  setData(el, "chat", chat);
  setData(el, "http", http);

  const connects = num(balancer.connectsPerSecond);
  show($("balancer-connects"), perSecond(connects), connects);

  const full = num(balancer.refusedFull), noNode = num(balancer.refusedNoNode), perAddress = num(balancer.refusedPerAddress);
  const refusedRate = num(balancer.refusedPerSecond);
  const refused = $("balancer-refused");
  show(refused, `${perSecond(refusedRate)} (in all: ${count(full)} full, ${count(noNode)} no node, ${count(perAddress)} per address)`, refusedRate);
  setData(refused, "full", full);
  setData(refused, "noNode", noNode);
  setData(refused, "perAddress", perAddress);
  refused.classList.toggle("warn", refusedRate !== null && refusedRate > 0);

  const cpu = num(balancer.cpuPercent);
  show($("balancer-cpu"), percent(cpu), cpu);
  const memory = num(balancer.residentBytes);
  show($("balancer-memory"), bytes(memory), memory);
  const version = str(balancer.version, 32);
  show($("balancer-version"), version ?? DASH, version);
}

// The chart is drawn at the width it is shown at (so that its text keeps its size): again when that changes.
let drawnWidth = 0;
new ResizeObserver((entries) => {
  const width = Math.round(entries[0].contentRect.width);
  if (width !== drawnWidth) {
    drawnWidth = width;
    try { renderChart(); } catch (error) { console.error(error); }
  }
}).observe($("chart").parentElement);

poll();
