// One number style for what pages update live: the strings copytrade/core/numbers.py
// prints (tests/test_browser_numbers.py checks both print the same).
// Values arrive as the server's decimal
// strings ("-1234.500000", "2.152E+4"); they are rounded on their digits,
// never through a float, so a cent is never lost to binary rounding.
(function () {
  "use strict";
  const NONE = "\u2013"; // shown for a missing or unreadable value
  const AVERAGE_EXTRA_PLACES = 2;
  const MAX_PLACES = 6;
  const SHAPE = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

  // A decimal as {neg, int, frac} digit strings, or null.
  function digits(value) {
    if (value === null || value === undefined || value === "" || typeof value === "boolean") return null;
    let text;
    if (typeof value === "number") {
      if (!Number.isFinite(value)) return null;
      text = value.toLocaleString("en-US", { useGrouping: false, maximumFractionDigits: 20 });
    } else {
      text = String(value).trim();
    }
    const m = SHAPE.exec(text);
    if (!m || (m[2] === "" && (m[3] || "") === "")) return null;
    let whole = m[2] || "0";
    let frac = m[3] || "";
    const exp = m[4] ? parseInt(m[4], 10) : 0;
    if (exp > 0) {
      frac = frac.padEnd(exp, "0");
      whole += frac.slice(0, exp);
      frac = frac.slice(exp);
    } else if (exp < 0) {
      whole = whole.padStart(1 - exp, "0");
      frac = whole.slice(whole.length + exp) + frac;
      whole = whole.slice(0, whole.length + exp);
    }
    return { neg: m[1] === "-", int: whole.replace(/^0+(?=\d)/, ""), frac };
  }

  // Rounded half up (away from zero) to `places` decimals.
  function round(d, places) {
    const frac = d.frac.padEnd(places + 1, "0");
    const all = (d.int + frac.slice(0, places)).split("");
    if (frac[places] >= "5") {
      let i = all.length - 1;
      for (; i >= 0 && all[i] === "9"; i--) all[i] = "0";
      if (i < 0) all.unshift("1");
      else all[i] = String(Number(all[i]) + 1);
    }
    const cut = all.length - places;
    return { neg: d.neg, int: all.slice(0, cut).join("").replace(/^0+(?=\d)/, "") || "0", frac: all.slice(cut).join("") };
  }

  const isZero = (r) => /^0*$/.test(r.int + r.frac);
  const grouped = (whole) => whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");

  // Signed dollars: "+$1,234.50", "-$80.00", "$0.00".
  function money(value) {
    const d = digits(value);
    if (!d) return NONE;
    const r = round(d, 2);
    if (isZero(r)) return "$0.00";
    return `${r.neg ? "-" : "+"}$${grouped(r.int)}.${r.frac}`;
  }

  // Dollars without a plus sign (balances, limits): "$50,000.00".
  function dollars(value) {
    const d = digits(value);
    if (!d) return NONE;
    const r = round(d, 2);
    return `${r.neg && !isZero(r) ? "-" : ""}$${grouped(r.int)}.${r.frac}`;
  }

  // Decimal places of a tick size ("0.25" -> 2), or null when unknown.
  function tickPlaces(tick) {
    const d = digits(tick);
    if (!d || isZero(d)) return null;
    return d.frac.replace(/0+$/, "").length;
  }

  // A price in points to its tick's precision; an average keeps at most two
  // more decimals; without a tick, written out as people write it.
  function price(value, tick) {
    const d = digits(value);
    if (!d) return NONE;
    const own = d.frac.replace(/0+$/, "").length;
    const grid = tick === undefined || tick === null ? null : tickPlaces(tick);
    const places = grid === null ? Math.min(own, MAX_PLACES) : Math.max(grid, Math.min(own, grid + AVERAGE_EXTRA_PLACES));
    const r = round(d, places);
    const frac = grid === null ? r.frac.replace(/0+$/, "") : r.frac;
    const neg = r.neg && !isZero(r);
    return `${neg ? "-" : ""}${r.int}${frac ? "." + frac : ""}`;
  }

  // A figure to `places` decimals with thousands separators ("1,234.57"), never "-0.00".
  function fixed(value, places) {
    const d = digits(value);
    if (!d) return NONE;
    const r = round(d, places);
    const sign = r.neg && !isZero(r) ? "-" : "";
    return `${sign}${grouped(r.int)}${places ? "." + r.frac : ""}`;
  }

  // The CSS class of a signed amount: "posv", "neg" or "".
  function signClass(value) {
    const d = digits(value);
    if (!d || isZero(d)) return "";
    return d.neg ? "neg" : "posv";
  }

  window.ctNumbers = Object.freeze({ NONE, money, dollars, price, fixed, signClass });
})();
