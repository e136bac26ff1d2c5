/* Draws every chart of the page that names its figure: an element with
   data-figure="<id>" gets the Plotly figure embedded as JSON in the
   element with that id (Django's json_script), with the locally served
   plotly.js. A file, not an inline script, so the Content-Security-Policy
   can forbid inline scripts. */
(function () {
  "use strict";
  if (!window.Plotly) { return; }
  document.querySelectorAll("[data-figure]").forEach(function (node) {
    var data = document.getElementById(node.dataset.figure);
    if (!data) { return; }
    var figure = JSON.parse(data.textContent);
    window.Plotly.newPlot(node, figure.data, figure.layout, {responsive: true, displaylogo: false});
  });
})();
