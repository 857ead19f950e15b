// The inspector dashboard's charts (监察总览): Chart.js (vendored, global `Chart`) drawn from the
// JSON data block #insp-charts. No inline script: the page's CSP allows scripts from the node only.
(function () {
  "use strict";
  function draw() {
    var block = document.getElementById("insp-charts");
    if (!block || typeof Chart === "undefined" || block.dataset.drawn) { return; }
    block.dataset.drawn = "1";  // a new page body (htmx) brings a new block: drawn once each
    var data = JSON.parse(block.textContent);
    var font = { family: '"PingFang SC","Microsoft YaHei","Noto Sans CJK SC",sans-serif' };
    Chart.defaults.font.family = font.family;
    Chart.defaults.animation = false;
    var rank = document.getElementById("chart-ranking");
    if (rank && data.ranking.labels.length) {
      new Chart(rank, {
        type: "bar",
        data: { labels: data.ranking.labels,
                datasets: [{ label: "综合得分", data: data.ranking.score, backgroundColor: "#c8102e" }] },
        options: { indexAxis: "y", maintainAspectRatio: false, responsive: true,
                   scales: { x: { min: 0, max: 100 } }, plugins: { legend: { display: false } } }
      });
    }
    var trend = document.getElementById("chart-trend");
    if (trend && data.trend.labels.length) {
      new Chart(trend, {
        type: "line",
        data: { labels: data.trend.labels, datasets: [
          { label: "受理数", data: data.trend.received, borderColor: "#1f5fbf", backgroundColor: "#1f5fbf" },
          { label: "办结数", data: data.trend.concluded, borderColor: "#2e8b57", backgroundColor: "#2e8b57" },
          { label: "超期数", data: data.trend.overdue, borderColor: "#c8102e", backgroundColor: "#c8102e" }
        ] },
        options: { maintainAspectRatio: false, responsive: true,
                   scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
      });
    }
    document.documentElement.setAttribute("data-insp-charts", "drawn");
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
  // an alert acknowledged or a finding reviewed in place: the new body's charts are drawn too
  document.addEventListener("htmx:afterSettle", draw);
})();
