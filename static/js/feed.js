// Live feed of one copy group. The websocket only notifies: every message
// carries the user's next sequence number, and the page re-reads the HTTP
// snapshot when it sees a gap or (re)connects, because the channel layer
// may drop messages under load.
(function () {
  "use strict";
  const FEED_LENGTH = 25;
  const groupId = JSON.parse(document.getElementById("group-id").textContent);
  const feedBody = document.querySelector("#feed tbody");
  const feedEmpty = document.getElementById("feed-empty");
  const connDot = document.getElementById("conn-state");
  const connText = document.getElementById("conn-text");

  let lastSeq = null;
  let orders = new Map(); // id -> order
  let recent = []; // messages kept to re-apply over a snapshot that predates them
  let refreshTimer = null;
  let socket = null;
  let backoff = 500;
  let tickSizes = {}; // product root -> tick size, from the snapshot

  function setConnection(ok, text) {
    connDot.className = "dot " + (ok ? "on" : "off");
    connText.textContent = text;
  }

  function applyOrders(list) {
    for (const order of list) {
      if (order.group === groupId) orders.set(order.id, order);
    }
    const ids = [...orders.keys()].sort((a, b) => b - a);
    for (const id of ids.slice(FEED_LENGTH)) orders.delete(id);
  }

  async function loadSnapshot() {
    const response = await fetch(`/api/groups/${groupId}/snapshot/`, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
    if (!response.ok) {
      setConnection(false, `snapshot failed (HTTP ${response.status})`);
      return;
    }
    const snap = await response.json();
    tickSizes = snap.tick_sizes || {};
    orders = new Map();
    applyOrders(snap.orders);
    for (const message of recent) {
      if (message.seq > snap.seq && message.kind === "copy_orders") applyOrders(message.data.orders);
    }
    lastSeq = Math.max(snap.seq, lastSeq ?? 0);
    renderOrders();
    renderFollowers(snap.followers);
    renderFlatten(snap.flatten);
  }

  // The latest emergency flatten covering this group: pending, in progress,
  // done or failed, as the server words it.
  function renderFlatten(flatten) {
    const line = document.getElementById("flatten-status");
    if (!line) return;
    if (!flatten) {
      line.hidden = true;
      return;
    }
    line.hidden = false;
    line.className = "flatten-status " + flatten.state;
    line.textContent = flatten.text;
  }

  function scheduleRefresh() {
    if (refreshTimer !== null) return;
    refreshTimer = setTimeout(() => {
      refreshTimer = null;
      loadSnapshot();
    }, 400);
  }

  function onMessage(event) {
    const message = JSON.parse(event.data);
    if (lastSeq !== null && message.seq <= lastSeq) return; // already in the snapshot
    recent.push(message);
    recent = recent.slice(-100);
    if (lastSeq === null || message.seq !== lastSeq + 1) {
      scheduleRefresh(); // a gap: something was dropped, re-read everything
      return;
    }
    lastSeq = message.seq;
    if (message.kind === "copy_orders") {
      applyOrders(message.data.orders);
      renderOrders();
      // Positions and PnL move with fills; re-read them, throttled.
      if (message.data.orders.some((o) => o.filled_qty > 0)) scheduleRefresh();
    } else if (message.kind === "positions" || message.kind === "flatten") {
      scheduleRefresh(); // positions moved outside copy orders, or a flatten ended
    }
  }

  function cell(text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    return td;
  }

  function renderOrders() {
    const sorted = [...orders.values()].sort((a, b) => b.id - a.id);
    feedBody.replaceChildren(
      ...sorted.map((o) => {
        const tr = document.createElement("tr");
        tr.dataset.orderId = o.id;
        tr.className = "status-" + o.status;
        const when = new Date(o.created_at).toLocaleTimeString();
        const size = o.qty ? `${o.side.toUpperCase()} ${o.qty} ${o.symbol}` : `${o.side.toUpperCase()} — ${o.symbol}`;
        const fill = o.avg_fill_price ? ` @ ${price(o.avg_fill_price, tickOf(o.symbol))}` : "";
        const status = document.createElement("td");
        const badge = document.createElement("span");
        badge.className = "badge " + o.status;
        badge.textContent = o.status.replace("_", " ");
        status.appendChild(badge);
        tr.append(cell(when, "nowrap"), cell(o.follower), cell(size + fill, "nowrap"), status,
          cell(o.reason, "reason"), cell(o.client_order_id, "mono"));
        return tr;
      })
    );
    feedEmpty.hidden = sorted.length > 0;
  }

  const { money, price, signClass } = window.ctNumbers;

  // A contract code's tick size: its root is the code less the month letter
  // and year digits (MNQH6 -> MNQ, ESZ25 -> ES).
  function tickOf(symbol) {
    const root = String(symbol).replace(/[FGHJKMNQUVXZ]\d{1,2}$/, "");
    return tickSizes[root] ?? null;
  }

  function renderFollowers(rows) {
    for (const row of rows) {
      const tr = document.querySelector(`#followers tr[data-account="${row.account_id}"]`);
      if (!tr) continue;
      tr.querySelector(".pos").textContent =
        row.positions.map((p) => `${p.qty > 0 ? "+" : ""}${p.qty} ${p.symbol} @ ${price(p.avg_price, tickOf(p.symbol))}`).join(", ") || "flat";
      for (const [cls, value] of [["realized", row.realized_pnl], ["unrealized", row.unrealized_pnl], ["session", row.session_pnl]]) {
        const td = tr.querySelector("." + cls);
        td.textContent = money(value);
        td.classList.toggle("neg", signClass(value) === "neg");
        td.classList.toggle("posv", signClass(value) === "posv");
      }
    }
  }

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${window.location.host}/ws/feed/`);
    socket.addEventListener("open", () => {
      backoff = 500;
      setConnection(true, "live");
      loadSnapshot();
    });
    socket.addEventListener("message", onMessage);
    socket.addEventListener("close", () => {
      setConnection(false, "reconnecting…");
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 10000);
    });
  }

  loadSnapshot().then(connect);
})();
