// A route's performance page: latency and slippage per follower, equity
// curves and copy variance. The server renders every number; this script
// re-reads the page's JSON when the live feed (the /ws/feed/ websocket, which
// only notifies) says the group's orders moved, re-fills the tables and draws
// the charts with uPlot (installed from npm, served from /static/vendor/uplot/).
// Data comes as JSON (Django's json_script), never inline script, so the
// Content-Security-Policy can forbid them. Without uPlot the tables stay.
(function () {
  "use strict";

  const groupId = JSON.parse(document.getElementById("group-id").textContent);
  const equitySource = document.getElementById("equity-data");
  let quality = JSON.parse(document.getElementById("quality-data").textContent);
  let equity = equitySource ? JSON.parse(equitySource.textContent) : null;
  const connDot = document.getElementById("conn-state");
  const connText = document.getElementById("conn-text");
  const DASH = "\u2013";
  const COLOURS = ["#4aa3ff", "#3ccf7d", "#f0b44c", "#c58af9", "#ff8f5e", "#5ed6d6", "#e86ba8", "#a3b86b"];

  // -- numbers, in the pages' one style (static/js/numbers.js): +$1,234.50, -$80.00, $0.00
  const { money, fixed } = window.ctNumbers;

  function signClass(value, cost) {
    const n = Number(value);
    if (value === null || value === undefined || !n) return "";
    return (n > 0) !== Boolean(cost) ? "posv" : "neg"; // a cost above 0 is bad for the follower
  }

  function lookup(object, path) {
    return path.split(".").reduce((o, key) => (o === null || o === undefined ? null : o[key]), object);
  }

  function setCell(el, kind, value) {
    el.classList.remove("posv", "neg");
    switch (kind) {
      case "count":
        el.textContent = value === null ? DASH : String(value);
        break;
      case "ms":
        el.textContent = value === null ? DASH : `${fixed(value, 2)} ms`;
        break;
      case "ticks":
        el.textContent = fixed(value, 2);
        break;
      case "cost":
      case "pnl":
        el.textContent = money(value);
        if (signClass(value, kind === "cost")) el.classList.add(signClass(value, kind === "cost"));
        break;
      case "spread":
        el.textContent = value && value.count ? `${fixed(value.p50, 2)} / ${fixed(value.p99, 2)} ms` : DASH;
        break;
      case "order":
        el.textContent = value ? `${value.side.toUpperCase()} ${value.qty} ${value.symbol} (${value.status})` : "none this session";
        break;
      case "fill":
        el.textContent = !value ? DASH : value.fill_price ? `${value.fill_price} vs ${value.leader_price}` : value.no_slippage;
        break;
      default:
        el.textContent = value === null ? DASH : String(value);
    }
  }

  function fillCells(scope, data) {
    for (const el of scope.querySelectorAll("[data-f]")) {
      setCell(el, el.dataset.kind, lookup(data, el.dataset.f));
    }
  }

  // -- latency and slippage ---------------------------------------------------------

  function renderQuality(q) {
    const day = document.querySelector('#quality [data-f="trading_date"]');
    if (day) day.textContent = q.trading_date;
    const truncated = document.querySelector('[data-testid="truncated"]');
    if (truncated) truncated.hidden = !q.truncated;
    fillCells(document.querySelector('[data-scope="route"]'), q.route);
    for (const f of q.followers) {
      const row = document.querySelector(`#follower-quality tr[data-follower="${f.follower_id}"]`);
      if (row) fillCells(row, f);
    }
  }

  // -- equity and copy variance ---------------------------------------------------------

  const charts = {};

  function chart(id, title, labels, colours, x, ys, height) {
    const target = document.getElementById(id);
    if (!target) return;
    const data = [x, ...ys];
    const existing = charts[id];
    if (existing && existing.series.length === data.length) {
      existing.setData(data);
      return;
    }
    if (existing) existing.destroy();
    const stepped = window.uPlot.paths && window.uPlot.paths.stepped ? window.uPlot.paths.stepped({ align: 1 }) : undefined;
    const options = {
      title,
      width: Math.max(320, target.clientWidth || 800),
      height,
      scales: { x: { time: true } },
      axes: [
        // Small charts keep their time labels apart.
        { stroke: "#8a98a6", grid: { stroke: "#26303b" }, space: height < 200 ? 110 : 60 },
        { stroke: "#8a98a6", grid: { stroke: "#26303b" }, size: 80, values: (u, ticks) => ticks.map((v) => money(Math.round(v)).replace(".00", "")) },
      ],
      series: [
        { value: (u, ts) => (ts == null ? "" : new Date(ts * 1000).toLocaleString()) },
        ...labels.map((label, i) => ({ label, stroke: colours[i], width: 2, paths: stepped, value: (u, v) => money(v) })),
      ],
    };
    charts[id] = new window.uPlot(options, data, target);
  }

  function variancePart(tag, text, className) {
    const el = document.createElement(tag);
    el.textContent = text;
    if (className) el.className = className;
    return el;
  }

  function renderVariance(v) {
    const box = document.querySelector(`[data-variance="${v.follower_id}"] .variance-text`);
    if (!box) return;
    if (v.variance === null) {
      box.replaceChildren(variancePart("strong", v.name), `: no scaled comparison: ${v.note}`);
      return;
    }
    const parts = [
      variancePart("strong", v.name), ": variance ",
      variancePart("strong", money(v.variance), signClass(v.variance, false)),
      ` (made ${money(v.follower_pnl)}; leader \u00d7 ${v.factor} = ${money(v.scaled_leader_pnl)}, factor ${v.formula})`,
    ];
    if (v.note) parts.push(". ", variancePart("span", v.note, "muted"));
    box.replaceChildren(...parts);
  }

  function renderEquity(e) {
    const rows = { group: e.group, leader: e.leader };
    for (const f of e.followers) rows[f.account_id] = f;
    for (const [key, curve] of Object.entries(rows)) {
      const tr = document.querySelector(`#equity-totals tr[data-curve="${key}"]`);
      if (!tr) continue;
      for (const el of tr.querySelectorAll("[data-f]")) {
        const value = curve[el.dataset.f];
        if (el.dataset.f === "open" && value === null) continue; // "not in range" stays
        setCell(el, "pnl", value);
      }
    }
    for (const v of e.variance) renderVariance(v);
    drawCharts(e);
  }

  function drawCharts(e) {
    const status = document.getElementById("chart-status");
    if (!document.getElementById("equity-group-chart")) return; // no library on this server
    if (typeof window.uPlot !== "function") {
      if (status) status.textContent = "The charting library did not load; the numbers are in the tables.";
      return;
    }
    if (e.x.length < 2) {
      if (status) status.textContent = "Nothing realized in this range: no curve to draw.";
      return;
    }
    chart("equity-group-chart", "Group (followers summed) and leader", ["Group (followers)", `Leader ${e.leader.name}`],
      [COLOURS[0], "#8a98a6"], e.x, [e.group.values, e.leader.values], 260);
    chart("equity-accounts-chart", "Each follower", e.followers.map((f) => f.name),
      e.followers.map((f, i) => COLOURS[i % COLOURS.length]), e.x, e.followers.map((f) => f.values), 260);
    const byAccount = new Map(e.followers.map((f) => [f.account_id, f]));
    for (const v of e.variance) {
      const own = byAccount.get(v.account_id);
      if (!own || !v.scaled_values) continue;
      chart(`variance-chart-${v.follower_id}`, `${v.name} against the leader \u00d7 ${v.factor}`,
        [v.name, `Leader \u00d7 ${v.factor}`], [COLOURS[1], "#8a98a6"], e.x, [own.values, v.scaled_values], 170);
    }
    if (status) status.textContent = "";
  }

  window.addEventListener("resize", () => {
    for (const [id, u] of Object.entries(charts)) {
      const el = document.getElementById(id);
      if (el) u.setSize({ width: Math.max(320, el.clientWidth), height: u.height });
    }
  });

  // -- live: re-read on the feed's notifications ------------------------------------------

  async function getJson(url) {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return response.json();
  }

  async function refreshQuality() {
    try {
      quality = await getJson(`/api/groups/${groupId}/performance/`);
      renderQuality(quality);
    } catch (error) {
      connText.textContent = `latency figures not re-read (${error.message})`;
    }
  }

  async function refreshEquity() {
    if (!equity || !equity.includes_now) return; // a range in the past does not move
    try {
      const query = new URLSearchParams({ first: equity.first, last: equity.last });
      equity = await getJson(`/api/groups/${groupId}/equity/?${query}`);
      renderEquity(equity);
    } catch (error) {
      connText.textContent = `equity not re-read (${error.message})`;
    }
  }

  const timers = {};
  function schedule(name, action, delay) {
    if (timers[name]) return;
    timers[name] = setTimeout(() => {
      timers[name] = null;
      action();
    }, delay);
  }

  function onMessage(event) {
    const message = JSON.parse(event.data);
    if (message.kind === "copy_orders") {
      const orders = message.data.orders.filter((o) => o.group === groupId);
      if (!orders.length) return;
      schedule("quality", refreshQuality, 500);
      // Every leader event marks the route's open positions at its price (even
      // one whose copies are all blocked): the open PnL moves without a fill.
      schedule("equity", refreshEquity, 1500);
    } else if (message.kind === "positions" || message.kind === "flatten") {
      schedule("equity", refreshEquity, 1500);
    }
  }

  let backoff = 500;
  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${window.location.host}/ws/feed/`);
    socket.addEventListener("open", () => {
      backoff = 500;
      connDot.className = "dot on";
      connText.textContent = "live";
      // Whatever moved while the socket was down.
      refreshQuality();
      refreshEquity();
    });
    socket.addEventListener("message", onMessage);
    socket.addEventListener("close", () => {
      connDot.className = "dot off";
      connText.textContent = "reconnecting…";
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 10000);
    });
  }

  renderQuality(quality);
  if (equity) renderEquity(equity);
  connect();
  // The layer may drop a notification: a slow re-read catches up anyway.
  setInterval(() => {
    refreshQuality();
    refreshEquity();
  }, 30000);
})();
