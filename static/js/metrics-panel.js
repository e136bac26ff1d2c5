// Draws every [data-figure] chart of the metrics panel this script sits in.
// The panel arrives through HTMX, so plotly.js (served by the portal, never a
// CDN) is loaded on first use and the drawing waits for it.
(function () {
  var script = document.currentScript;
  var panel = script.closest(".metrics-panel");
  if (!panel) { return; }
  function draw() {
    panel.querySelectorAll("[data-figure]").forEach(function (node) {
      var figure = JSON.parse(document.getElementById(node.dataset.figure).textContent);
      window.Plotly.newPlot(node, figure.data, figure.layout, {responsive: true, displaylogo: false});
    });
  }
  if (window.Plotly) { draw(); return; }
  var loader = document.querySelector("script[data-plotly-loader]");
  if (!loader) {
    loader = document.createElement("script");
    loader.src = script.dataset.plotlySrc;
    loader.dataset.plotlyLoader = "1";
    document.head.appendChild(loader);
  }
  loader.addEventListener("load", draw);
})();
