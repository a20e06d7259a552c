// A pilot's equity curve and drawdown (profile page), drawn with uPlot
// (installed from npm, served from /static/vendor/uplot/). The data comes
// from the page as JSON (#pilot-chart-data, Django's json_script): ISO
// trading days, equity and drawdown in dollars. No inline script, so a
// Content-Security-Policy can forbid them. Without the library the page
// keeps its tables and says so.
(function () {
  "use strict";

  // Axis ticks in whole dollars (cents crowd the axis); the legend keeps cents.
  const wholeDollars = (v) => `${v < 0 ? "-" : ""}$${Math.abs(Math.round(v)).toLocaleString("en-US")}`;
  // Legend values in the pages' one style (static/js/numbers.js).
  const money = (v) => (v == null ? "" : window.ctNumbers.dollars(v));

  function chart(target, title, label, values, days, colour, fill) {
    const width = Math.max(320, target.clientWidth || 800);
    const options = {
      title,
      width,
      height: 240,
      scales: { x: { time: true } },
      axes: [
        { stroke: "#8a98a6", grid: { stroke: "#26303b" } },
        { stroke: "#8a98a6", grid: { stroke: "#26303b" }, size: 80, values: (u, ticks) => ticks.map(wholeDollars) },
      ],
      series: [
        { value: (u, ts) => (ts == null ? "" : new Date(ts * 1000).toISOString().slice(0, 10)) },
        { label, stroke: colour, fill, width: 2, value: (u, v) => money(v) },
      ],
    };
    // uPlot reads x as seconds since the epoch: noon UTC keeps each date on its day.
    const xs = days.map((d) => Date.parse(`${d}T12:00:00Z`) / 1000);
    return new window.uPlot(options, [xs, values], target);
  }

  function draw() {
    const status = document.getElementById("chart-status");
    const source = document.getElementById("pilot-chart-data");
    if (!source) return;
    if (typeof window.uPlot !== "function") {
      if (status) status.textContent = "The charting library did not load; the daily closes are in the table below.";
      return;
    }
    const data = JSON.parse(source.textContent);
    const equity = document.getElementById("equity-chart");
    const drawdown = document.getElementById("drawdown-chart");
    const charts = [
      chart(equity, "Equity (closing balance)", "Equity", data.equity, data.days, "#4aa3ff", "rgba(74,163,255,0.08)"),
      chart(drawdown, "Drawdown from the high-water mark", "Drawdown", data.drawdown, data.days, "#ff6b6b", "rgba(255,107,107,0.15)"),
    ];
    window.addEventListener("resize", () => {
      for (const [u, el] of [[charts[0], equity], [charts[1], drawdown]]) {
        u.setSize({ width: Math.max(320, el.clientWidth), height: 240 });
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
