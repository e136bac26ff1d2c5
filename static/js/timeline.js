/* The pilot timeline: draws the figure the page embeds as JSON
   (#timeline-data) into #timeline with the locally served plotly.js.
   A file, not an inline script, so the Content-Security-Policy can
   forbid inline scripts. */
(function () {
  "use strict";
  var data = document.getElementById("timeline-data");
  var target = document.getElementById("timeline");
  if (!data || !target || !window.Plotly) { return; }
  var fig = JSON.parse(data.textContent);
  window.Plotly.newPlot(target, fig.data, fig.layout, {displaylogo: false, responsive: true});
})();
