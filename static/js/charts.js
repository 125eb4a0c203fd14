// Renders every element with data-figure-id from the JSON figure Django put beside it (no inline script).
// A chart with data-click-url opens the evidence of the clicked prediction (its id is customdata[3]).
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-figure-id]").forEach(function (el) {
    var source = document.getElementById(el.dataset.figureId);
    if (!source || typeof Plotly === "undefined") return;
    var figure = JSON.parse(source.textContent);
    Plotly.newPlot(el, figure.data, figure.layout, { responsive: true, displaylogo: false }).then(function () {
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
