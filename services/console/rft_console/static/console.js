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
document.addEventListener("htmx:afterSettle", function () { drawCharts(document); });
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-dismiss='alert']");
  if (button) {
    var alerts = document.getElementById("alerts");
    if (alerts) alerts.replaceChildren();
  }
});

// Step I: the training job's events, relayed by the console from the gateway as they come.
var FINISHED = ["succeeded", "failed", "cancelled"];
var KINDS = ["status", "step", "eval", "checkpoint", "results"];

function setText(id, text) {
  var element = document.getElementById(id);
  if (element) element.textContent = text;
}

function fixed(value) { return value === null || value === undefined ? "–" : value.toFixed(3); }

function percent(value) {
  return value === null || value === undefined ? "–" : (100 * value).toFixed(1) + "%";
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  var minutes = Math.floor(seconds / 60);
  return minutes ? minutes + " min " + Math.round(seconds % 60) + " s" : Math.round(seconds) + " s";
}

function addPoint(chart, label, x, y) {
  if (!chart || y === null || y === undefined) return;
  var series = chart.data.datasets.find(function (d) { return d.label === label; });
  if (!series) {
    series = { label: label, data: [], borderDash: label.indexOf(":") > 0 ? [4, 3] : [] };
    chart.data.datasets.push(series);
  }
  series.data.push({ x: x, y: y });
}

function onTrainingEvent(section, chart, source, event) {
  setText("job-status", event.status);
  setText("job-step", event.step);
  setText("job-total", event.total_steps);
  var progress = document.getElementById("job-progress");
  if (progress) progress.value = event.progress;
  if (event.eta_seconds !== null) setText("job-eta", duration(event.eta_seconds));
  if (event.kind === "step") {
    setText("job-train", fixed(event.train_reward));
    setText("job-zero", percent(event.zero_signal_share));
    setText("job-errors", percent(event.grader_error_share));
    addPoint(chart, "train reward", event.step, event.train_reward);
    Object.keys(event.train_reward_by_grader || {}).forEach(function (grader) {
      addPoint(chart, "train:" + grader, event.step, event.train_reward_by_grader[grader]);
    });
  }
  if (event.kind === "eval") {
    setText("job-valid", fixed(event.valid_reward));
    addPoint(chart, "valid reward", event.step, event.valid_reward);
    Object.keys(event.valid_reward_by_grader || {}).forEach(function (grader) {
      addPoint(chart, "valid:" + grader, event.step, event.valid_reward_by_grader[grader]);
    });
  }
  if (event.message) setText("job-message", event.message);
  if (chart) chart.update("none");
  if (event.kind === "results") {
    var link = document.getElementById("job-results");
    if (link) link.hidden = false;
  }
  if (event.kind === "status" && FINISHED.indexOf(event.status) >= 0) {
    source.close();  // the stream ends with the job: do not let EventSource reconnect
    var cancel = document.getElementById("cancel-training");
    if (cancel) cancel.disabled = true;
    section.dataset.finished = event.status;
  }
}

function startLive(root) {
  root.querySelectorAll("[data-events]").forEach(function (section) {
    if (section.dataset.started) return;
    section.dataset.started = "1";
    var canvas = document.getElementById("reward-chart");
    var source = new EventSource(section.dataset.events);
    KINDS.forEach(function (kind) {
      source.addEventListener(kind, function (message) {
        onTrainingEvent(section, canvas && canvas._chart, source, JSON.parse(message.data));
      });
    });
  });
}

document.addEventListener("DOMContentLoaded", function () { startLive(document); });

// Steps E and H: the console re-renders the job's part of the page at each change
// (rft_console.live); the last event carries the final state and ends the stream.
function startFragments(root) {
  root.querySelectorAll("[data-live]").forEach(function (section) {
    if (section.dataset.started) return;
    section.dataset.started = "1";
    var source = new EventSource(section.dataset.live);
    function swap(message) {
      section.innerHTML = message.data;  // the console's autoescaped template, never trace markup
      drawCharts(section);
    }
    source.addEventListener("progress", swap);
    source.addEventListener("done", function (message) {
      source.close();  // the stream ends with the job: do not let EventSource reconnect
      swap(message);
      section.dataset.finished = "1";
    });
  });
}

document.addEventListener("DOMContentLoaded", function () { startFragments(document); });
