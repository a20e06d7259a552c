// Live feed of one copy group. The websocket only notifies: every message
// carries the user's next sequence number, and the page re-reads the HTTP
// snapshot when it sees a gap or (re)connects, because the channel layer
// may drop messages under load. A copy_orders message is drawn at once (the
// feed); it and every other message about this group (positions, state,
// flatten, desync) make the page re-read the snapshot, throttled, which
// group_live.js draws: header, eligibility, positions, closes, trades.
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
    orders = new Map();
    applyOrders(snap.orders);
    for (const message of recent) {
      if (message.seq > snap.seq && message.kind === "copy_orders") applyOrders(message.data.orders);
    }
    lastSeq = Math.max(snap.seq, lastSeq ?? 0);
    window.CopytradeGroup.render(snap); // first: it knows the tick sizes the feed prints with
    renderOrders();
    renderFlatten(snap.flatten);
  }

  // Whether a message may concern this page's group (a message naming no
  // group concerns every group of the user).
  function concernsGroup(data) {
    if (!data) return true;
    if (Array.isArray(data.groups)) return data.groups.some((g) => g === null || g === groupId);
    if (data.group === undefined || data.group === null) return true;
    return data.group === groupId;
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
      // Marks, positions, PnL, quarantines and the route level move with a
      // leader event's orders and answers: re-read them, throttled.
      if (message.data.orders.some((o) => o.group === groupId)) scheduleRefresh();
    } else if (concernsGroup(message.data)) {
      scheduleRefresh(); // positions, state, a flatten or a desync changed outside copy orders
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
        const fill = o.avg_fill_price ? ` @ ${window.CopytradeGroup.priceText(o.symbol, o.avg_fill_price)}` : "";
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
