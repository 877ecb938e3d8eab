// The console's own script: charts from <script type="application/json"> blocks, the alert's
// dismiss button, and the live training stream. No inline scripts anywhere: the page's
// Content-Security-Policy allows scripts from /static only.
"use strict";

function drawCharts(root) {
  root.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    if (canvas.dataset.drawn) return;
    var source = document.getElementById(canvas.dataset.chart);
    if (!source || typeof Chart === "undefined") return;
    canvas.dataset.drawn = "1";
    canvas._chart = new Chart(canvas, JSON.parse(source.textContent));
  });
}

document.addEventListener("DOMContentLoaded", function () { drawCharts(document); });
document.addEventListener("htmx:afterSettle", function (event) { drawCharts(event.target); });
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-dismiss='alert']");
  if (button) {
    var alerts = document.getElementById("alerts");
    if (alerts) alerts.replaceChildren();
  }
});
