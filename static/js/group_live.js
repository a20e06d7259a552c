// The group page's live parts, drawn from the snapshot (GET
// /api/groups/<id>/snapshot/, routing/cockpit.py) each time feed.js reads
// it: the header (route level and reason, pause, replay, connections), the
// followers' PnL, eligibility and Copying cells, the positions panel with
// its Close and Untrack buttons, the last position closes and the copied
// trades. Prices come from the server at their tick precision; money comes
// as signed dollar strings and is written in the project's one style
// (+$1,234.50, -$80.00, $0.00). Text is set with textContent only.
(function () {
  "use strict";
  const groupId = JSON.parse(document.getElementById("group-id").textContent);
  const groupUrl = `/groups/${groupId}/`;

  function csrfToken() {
    const input = document.querySelector("#csrf input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  // Money and prices in the server's one style (static/js/numbers.js).
  const { money, price, signClass } = window.ctNumbers;

  // Product root -> its tick size (the snapshot's "tick_sizes").
  let tickSizes = {};

  // A price string (points) at its contract's tick precision; contract codes
  // are normalised (root, month letter, one-digit year: MNQH5).
  function priceText(symbol, text) {
    return price(text, tickSizes[symbol.slice(0, -2)] ?? null);
  }

  function signed(qty) {
    return qty > 0 ? `+${qty}` : `${qty}`;
  }

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  function moneyCell(tag, text, className) {
    const node = el(tag, money(text), className);
    node.classList.toggle("neg", signClass(text) === "neg");
    node.classList.toggle("posv", signClass(text) === "posv");
    return node;
  }

  function badge(text, className, title) {
    const node = el("span", text, `badge ${className}`);
    if (title) node.title = title;
    return node;
  }

  // A POST form with the page's CSRF token, as the server-rendered buttons are.
  function postForm(action, fields, label, buttonClass, testid) {
    const form = el("form", null, "inline");
    form.method = "post";
    form.action = action;
    for (const [name, value] of Object.entries({ csrfmiddlewaretoken: csrfToken(), ...fields })) {
      const input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      input.value = value;
      form.appendChild(input);
    }
    const button = el("button", label, `small ${buttonClass}`);
    button.type = "submit";
    if (testid) button.dataset.testid = testid;
    form.appendChild(button);
    return form;
  }

  // -- header -------------------------------------------------------------------

  function renderHeader(header) {
    const h1 = document.querySelector(".page-head h1");
    let paused = document.querySelector('[data-testid="group-paused"]');
    if (!paused) {
      paused = badge("Paused", "paused");
      paused.dataset.testid = "group-paused";
      h1.appendChild(paused);
    }
    paused.hidden = header.enabled;
    document.getElementById("paused-note").hidden = header.enabled;
    const toggle = document.getElementById("group-toggle");
    if (toggle && toggle.dataset.enabled !== String(header.enabled)) {
      toggle.replaceChildren(
        header.enabled
          ? postForm(`${groupUrl}pause/`, { next: groupUrl }, "Pause group", "secondary")
          : postForm(`${groupUrl}resume/`, { next: groupUrl }, "Resume group", ""),
      );
      toggle.dataset.enabled = String(header.enabled);
    }
    const level = document.getElementById("route-level");
    level.textContent = header.level_label;
    level.classList.toggle("locked", header.level === 4);
    document.getElementById("level-note").textContent =
      header.level === 2 && !header.reviewed ? " (not reviewed this session)" : "";
    const reason = document.getElementById("level-reason");
    reason.hidden = header.level === 3 || !header.level_reason;
    reason.textContent = `Level ${header.level_label}: ${header.level_reason}`;
    reason.classList.toggle("locked", header.level === 4);
    const refusals = document.getElementById("refusals");
    refusals.hidden = header.refusals.length === 0;
    refusals.textContent = `No entry is copied this session: ${header.refusals.join("; ")}.`;
    const connections = document.getElementById("connections");
    connections.replaceChildren(
      ...Object.entries(header.connections).map(([platform, state]) => {
        const node = badge(`${platform} ${state}`, `conn ${state}`);
        node.dataset.platform = platform;
        return node;
      }),
    );
    renderReplay(header.replay);
  }

  function renderReplay(replay) {
    const line = document.getElementById("replay-status");
    line.hidden = !replay;
    if (!replay) return;
    const kind = replay.simulated ? badge("Simulated session", "simulated") : badge("Real export", "real");
    if (replay.simulated) kind.dataset.testid = "simulated";
    const state = badge(replay.status_label, `replay-state ${replay.status}`);
    state.dataset.testid = "replay-state";
    let progress = "";
    if (replay.status === "running") {
      progress = ` · fill ${replay.next} of ${replay.fills}${replay.cycle ? `, cycle ${replay.cycle + 1}` : ""}`;
    } else if (replay.status === "failed" && replay.error) {
      progress = `: ${replay.error}`;
    }
    line.replaceChildren(kind, " Replaying ", el("em", replay.label), " into this group ", state, progress);
  }

  // -- followers table ------------------------------------------------------------

  function renderFollowers(rows, states) {
    const stateOf = new Map(states.map((s) => [s.account_id, s]));
    for (const row of rows) {
      const tr = document.querySelector(`#followers tr[data-account="${row.account_id}"]`);
      if (!tr) continue;
      tr.querySelector(".pos").textContent =
        row.positions.map((p) => `${signed(p.qty)} ${p.symbol} @ ${p.avg_price}`).join(", ") || "flat";
      for (const [cls, value] of [["realized", row.realized_pnl], ["unrealized", row.unrealized_pnl], ["session", row.session_pnl]]) {
        const td = tr.querySelector("." + cls);
        td.textContent = money(value);
        td.classList.toggle("neg", signClass(value) === "neg");
        td.classList.toggle("posv", signClass(value) === "posv");
      }
      const state = stateOf.get(row.account_id);
      if (state) renderFollowerState(tr, row, state);
    }
  }

  function renderFollowerState(tr, row, state) {
    tr.classList.toggle("paused-row", !state.enabled);
    const risk = tr.querySelector('[data-testid="risk-state"]');
    const old = risk.querySelector(".badge");
    const eligibility = state.eligibility;
    const fresh = badge(eligibility.text, eligibility.eligible ? "filled" : "blocked", eligibility.title);
    fresh.dataset.testid = "eligibility";
    if (old) old.replaceWith(fresh);
    else risk.prepend(fresh, " ");
    const copying = tr.querySelector(".copying");
    if (copying && copying.dataset.enabled !== String(state.enabled)) {
      const base = `${groupUrl}followers/${row.follower_id}/`;
      const flag = state.enabled ? badge("Active", "filled") : badge("Paused", "paused");
      if (!state.enabled) flag.dataset.testid = "follower-paused";
      copying.replaceChildren(
        flag,
        state.enabled
          ? postForm(`${base}pause/`, { next: groupUrl }, "Pause", "secondary")
          : postForm(`${base}resume/`, { next: groupUrl }, "Resume", ""),
      );
      copying.dataset.enabled = String(state.enabled);
    }
  }

  // -- positions panel --------------------------------------------------------------

  function positionRow(account, name, position, options) {
    const tr = el("tr");
    tr.dataset.testid = "position";
    tr.dataset.account = account;
    if (position) tr.dataset.symbol = position.symbol;
    const who = el("td", null, "nowrap");
    who.append(el("strong", name));
    if (options.role) who.append(el("span", options.role, "kind"));
    const states = el("td", null, "states");
    for (const b of options.badges || []) {
      const node = badge(b.text, `state ${b.code}`, b.title);
      node.dataset.testid = `state-${b.code}`;
      states.append(node, " ");
    }
    if (!position) {
      const flat = el("td", "flat", "muted");
      flat.colSpan = 6;
      flat.dataset.testid = "flat";
      tr.append(who, states, flat, el("td"));
      return tr;
    }
    const qty = el("td", signed(position.qty), "num qty");
    qty.classList.toggle("posv", position.qty > 0);
    qty.classList.toggle("neg", position.qty < 0);
    const manages = el("td", null, "nowrap manages");
    if (options.leader) manages.textContent = "leader";
    else {
      const parts = [];
      if (position.tracked) parts.push(`copying manages ${signed(position.tracked)}`);
      if (position.untracked) parts.push(`${signed(position.untracked)} untracked (yours)`);
      manages.textContent = parts.join("; ") || "not managed by copying";
    }
    const buttons = el("td", null, "nowrap actions-cell");
    if (position.closing) {
      buttons.append(badge("Closing…", "pending"));
    } else if (!options.leader) {
      const fields = { symbol: position.symbol, qty: position.qty };
      buttons.append(postForm(`${options.base}close/`, fields, "Close", "danger", "close"));
      if (position.tracked) {
        buttons.append(postForm(`${options.base}untrack/`, { symbol: position.symbol, qty: position.tracked }, "Untrack", "secondary", "untrack"));
      }
    }
    tr.append(who, states, el("td", position.symbol), qty, el("td", position.avg_price, "num"),
      el("td", position.mark ?? "\u2013", "num mark"), moneyCell("td", position.pnl, "num pnl"), manages, buttons);
    return tr;
  }

  function renderPositions(snap) {
    const body = document.querySelector("#positions-table tbody");
    const rows = [];
    const leader = snap.leader;
    const leaderPositions = leader.positions.length ? leader.positions : [null];
    for (const p of leaderPositions) rows.push(positionRow(leader.account_id, leader.name, p, { role: "leader", leader: true }));
    const stateOf = new Map(snap.states.map((s) => [s.account_id, s]));
    for (const f of snap.followers) {
      const state = stateOf.get(f.account_id);
      const options = { badges: state ? state.badges : [], base: `${groupUrl}followers/${f.follower_id}/positions/` };
      const held = f.positions.length ? f.positions : [null];
      held.forEach((p, i) => rows.push(positionRow(f.account_id, f.follower, p, i === 0 ? options : { base: options.base })));
    }
    body.replaceChildren(...rows);
    const closes = document.getElementById("closes");
    closes.replaceChildren(
      ...snap.closes.map((c) => {
        const item = el("li", null, `close ${c.status}`);
        item.dataset.testid = "position-close";
        const text = c.status === "pending" ? `${c.follower}: closing ${c.symbol} (pressed by ${c.requested_by})…` : c.detail;
        item.append(badge(c.status, c.status === "done" ? "filled" : c.status === "pending" ? "pending" : "blocked"), " ", text);
        return item;
      }),
    );
    closes.hidden = snap.closes.length === 0;
  }

  // -- copied trades ------------------------------------------------------------------

  let lastTrades = [];

  function duration(opened, closed) {
    if (!opened) return "";
    const seconds = Math.max(0, Math.round((Date.parse(closed) - Date.parse(opened)) / 1000));
    const h = Math.floor(seconds / 3600);
    const m = Math.floor((seconds % 3600) / 60);
    const s = seconds % 60;
    return h ? `${h}h ${String(m).padStart(2, "0")}m` : `${m}m ${String(s).padStart(2, "0")}s`;
  }

  function renderTrades(trades) {
    lastTrades = trades;
    const filter = document.getElementById("trades-filter").value;
    const shown = trades.filter((t) => !filter || String(t.account_id) === filter).slice(0, 25);
    document.querySelector("#trades-table tbody").replaceChildren(
      ...shown.map((t) => {
        const tr = el("tr");
        tr.dataset.testid = "trade";
        const trade = el("td", `${t.side === "long" ? "Long" : "Short"} ${t.qty} ${t.symbol}`, "nowrap");
        const held = duration(t.opened_at, t.closed_at);
        if (held) trade.append(el("span", `held ${held}`, "muted held"));
        tr.append(
          el("td", new Date(t.closed_at).toLocaleTimeString(), "nowrap"),
          el("td", t.follower),
          trade,
          moneyCell("td", t.pnl, "num nowrap"),
        );
        return tr;
      }),
    );
    document.getElementById("trades-empty").hidden = shown.length > 0;
  }

  document.getElementById("trades-filter").addEventListener("change", () => renderTrades(lastTrades));

  window.CopytradeGroup = {
    money,
    priceText,
    render(snap) {
      tickSizes = snap.tick_sizes;
      renderHeader(snap.header);
      renderFollowers(snap.followers, snap.states);
      renderPositions(snap);
      renderTrades(snap.trades);
    },
  };
})();
