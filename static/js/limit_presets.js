// Prop-firm presets on an account's risk limits page: a click fills the
// form's firm fields in place (no reload, so what the trader typed in the
// other fields stays), highlights them and shows the preset's notes. The
// form is not submitted: the trader reviews and saves. Without this script
// each preset is a link that reloads the page with the form filled.
(function () {
  "use strict";
  const dataNode = document.getElementById("preset-data");
  const form = document.querySelector('form[data-testid="limits-form"]');
  if (!dataNode || !form) {
    return;
  }
  const presets = JSON.parse(dataNode.textContent);
  const note = document.getElementById("preset-note");

  const { dollars } = window.ctNumbers; // static/js/numbers.js: the server's style

  function apply(key) {
    const preset = presets[key];
    if (!preset) {
      return false;
    }
    form.querySelectorAll(".preset-filled").forEach((el) => el.classList.remove("preset-filled"));
    for (const [name, value] of Object.entries(preset.values)) {
      const field = form.elements.namedItem(name);
      if (!field) {
        continue;
      }
      field.value = value;
      field.classList.add("preset-filled");
      field.dispatchEvent(new Event("change", { bubbles: true }));
    }
    document.getElementById("preset-note-title").textContent =
      `Filled from ${preset.label}: review the highlighted fields, then save.`;
    document.getElementById("preset-note-size").textContent = preset.size_differs
      ? ` This account's starting balance is ${note.dataset.startingBalance}, the firm measures ` +
        `the drawdown from ${dollars(preset.account_size)}: change it on the accounts page if it is wrong.`
      : "";
    document.getElementById("preset-note-list").replaceChildren(
      ...preset.notes.map((text) => {
        const item = document.createElement("li");
        item.textContent = text;
        return item;
      }),
    );
    note.classList.remove("hidden");
    return true;
  }

  document.querySelectorAll("a[data-preset]").forEach((link) => {
    link.addEventListener("click", (event) => {
      if (apply(link.dataset.preset)) {
        event.preventDefault();
      }
    });
  });
  // Filled by the server (?preset=): highlight the same fields.
  const chosen = new URLSearchParams(window.location.search).get("preset");
  if (chosen && presets[chosen]) {
    for (const name of Object.keys(presets[chosen].values)) {
      const field = form.elements.namedItem(name);
      if (field) {
        field.classList.add("preset-filled");
      }
    }
  }
})();
