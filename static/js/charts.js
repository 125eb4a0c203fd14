// Renders every element with data-figure-id from the JSON figure Django put beside it (no inline script).
// A chart with data-click-url opens the evidence of the clicked prediction (its id is customdata[3]).
// Patient data never leaves the page: no "Share chart" (plotly.js 4 offers to upload the figure to Plotly
// Cloud unless told not to), no Plotly logo link; downloading a PNG stays (a local file).
var CONFIG = {
  responsive: true,
  displaylogo: false,
  showSendToCloud: false,
  showEditInChartStudio: false,
  modeBarButtonsToRemove: ["sendDataToCloud", "editInChartStudio"],
};
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-figure-id]").forEach(function (el) {
    var source = document.getElementById(el.dataset.figureId);
    if (!source || typeof Plotly === "undefined") return;
    var figure = JSON.parse(source.textContent);
    Plotly.newPlot(el, figure.data, figure.layout, CONFIG).then(function () {
      el.dataset.rendered = "true";
    });
    if (el.dataset.clickUrl) {
      el.on("plotly_click", function (event) {
        var point = event.points && event.points[0];
        if (point && point.customdata && point.customdata[3]) {
          window.location.href = el.dataset.clickUrl + "?prediction=" + point.customdata[3] + "#evidence";
        }
      });
    }
  });
});
// A "Print" button (the printable report): no inline handlers under the page's content security policy.
document.addEventListener("click", function (event) {
  if (event.target.closest && event.target.closest("[data-print]")) window.print();
});
