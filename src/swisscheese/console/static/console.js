// Live traffic over server-sent events, and incident countdowns. The server renders every
// row (escaped); this only places it.
"use strict";

function followTraffic() {
  const table = document.querySelector("table[data-stream]");
  if (!table || !window.EventSource) return;
  const body = document.getElementById("verdicts");
  const state = document.getElementById("live-state");
  const source = new EventSource(table.dataset.stream);
  source.addEventListener("verdict", (event) => {
    const row = JSON.parse(event.data).html;
    body.insertAdjacentHTML("afterbegin", row);
    const empty = document.getElementById("no-verdicts");
    if (empty) empty.remove();
    while (body.rows.length > 200) body.deleteRow(body.rows.length - 1);
  });
  source.addEventListener("signed-out", () => {
    source.close();
    if (state) { state.textContent = "signed out"; state.classList.add("down"); }
  });
  source.onopen = () => { if (state) { state.textContent = "live"; state.classList.remove("down"); } };
  source.onerror = () => { if (state) { state.textContent = "reconnecting"; state.classList.add("down"); } };
}

function tickCountdowns() {
  const now = Date.now();
  for (const el of document.querySelectorAll(".countdown[data-due]")) {
    const left = (Date.parse(el.dataset.due) - now) / 1000;
    if (left < 0) { el.textContent = "OVERDUE"; continue; }
    const h = Math.floor(left / 3600), m = Math.floor((left % 3600) / 60), s = Math.floor(left % 60);
    el.textContent = `${h} h ${m} min ${s} s`;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  followTraffic();
  if (document.querySelector(".countdown[data-due]")) {
    tickCountdowns();
    setInterval(tickCountdowns, 1000);
  }
});
