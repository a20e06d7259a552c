// Progress of the user's uploads on the group page. Each job still pending
// or running is polled (GET /api/imports/<id>/) until it ends; the row's
// progress bar, status, error and notes follow. Text is set with
// textContent only: file names and errors come from the user's file.
(function () {
  "use strict";
  const POLL_MS = 1000;
  const MAX_POLL_MS = 10000;

  function render(row, job) {
    const bar = row.querySelector("progress");
    bar.max = job.total_bytes;
    bar.value = job.bytes_read;
    bar.textContent = `${job.percent} %`;
    row.querySelector(".import-progress").textContent = `${job.percent} % · ${job.rows} rows`;
    const badge = row.querySelector(".import-status");
    badge.className = `badge import-status ${job.status}`;
    badge.textContent = job.status_label;
    row.querySelector(".import-error").textContent = job.error ? `Nothing imported: ${job.error}` : "";
    const notes = row.querySelector(".import-notes");
    notes.replaceChildren(
      ...job.notes.map((note) => {
        const item = document.createElement("li");
        item.className = note.level;
        item.textContent = note.text;
        return item;
      }),
    );
    row.dataset.open = job.open ? "true" : "false";
  }

  function follow(row) {
    let delay = POLL_MS;
    async function poll() {
      let job = null;
      try {
        const response = await fetch(row.dataset.url, {
          credentials: "same-origin",
          headers: { Accept: "application/json" },
        });
        if (response.ok) job = await response.json();
      } catch (error) {
        job = null; // offline or the server restarting: try again, more slowly
      }
      if (job === null) {
        delay = Math.min(delay * 2, MAX_POLL_MS);
      } else {
        delay = POLL_MS;
        render(row, job);
        if (!job.open) return;
      }
      setTimeout(poll, delay);
    }
    setTimeout(poll, delay);
  }

  for (const row of document.querySelectorAll("tr[data-import-job]")) {
    if (row.dataset.open === "true") follow(row);
  }
})();
