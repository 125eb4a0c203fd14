// Renders every element with data-figure-id from the JSON figure Django put beside it (no inline script).
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-figure-id]").forEach(function (el) {
    var source = document.getElementById(el.dataset.figureId);
    if (!source || typeof Plotly === "undefined") return;
    var figure = JSON.parse(source.textContent);
    Plotly.newPlot(el, figure.data, figure.layout, { responsive: true, displaylogo: false });
  });
});
