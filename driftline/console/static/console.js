// Keeps the parts of a page marked data-live current: every few seconds their content is fetched again from the
// console (same origin) and replaced. A run's part stops once the run has ended; a part with a form being filled
// in (a field focused or typed into) waits until it is sent.
"use strict";

function ended(element) {
  const live = element.querySelector(".live[data-status]");
  return live !== null && live.dataset.status !== "RUNNING";
}

function editing(element) {
  return Array.from(element.querySelectorAll("form input:not([type=hidden])")).some(
    (field) => field === document.activeElement || field.value !== "",
  );
}

function keepCurrent(element) {
  const every = Number(element.dataset.every || 2000);
  const refresh = async () => {
    if (ended(element)) {
      return;
    }
    if (editing(element)) {
      window.setTimeout(refresh, every);
      return;
    }
    try {
      const answer = await fetch(element.dataset.live, { credentials: "same-origin", cache: "no-store" });
      if (answer.ok) {
        element.innerHTML = await answer.text();
      }
    } finally {
      if (!ended(element)) {
        window.setTimeout(refresh, every);
      }
    }
  };
  window.setTimeout(refresh, every);
}

document.querySelectorAll("[data-live]").forEach(keepCurrent);
