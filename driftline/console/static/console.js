// Keeps the parts of a page marked data-live current: every few seconds their content is fetched again from the
// console (same origin) and replaced. A run's part stops once the run has ended.
"use strict";

function ended(element) {
  const live = element.querySelector(".live[data-status]");
  return live !== null && live.dataset.status !== "RUNNING";
}

function keepCurrent(element) {
  const every = Number(element.dataset.every || 2000);
  const refresh = async () => {
    if (ended(element)) {
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
