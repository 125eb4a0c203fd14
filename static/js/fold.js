// Long sections of a page are <details class="fold" data-open-wide>: closed on a phone, where the first
// screen shows the latest score, its band, item 9 and any urgent alert, and open on a wide screen, where
// everything fits. A chart drawn inside a closed section is sized again when the section opens.
(function () {
  var wide = window.matchMedia && window.matchMedia("(min-width: 900px)").matches;
  if (wide) {
    document.querySelectorAll("details[data-open-wide]").forEach(function (d) {
      d.open = true;
    });
  }
  document.addEventListener(
    "toggle",
    function (event) {
      var details = event.target;
      if (!details.open || typeof Plotly === "undefined" || !details.querySelectorAll) return;
      details.querySelectorAll("[data-figure-id]").forEach(function (el) {
        if (el.dataset.rendered) Plotly.Plots.resize(el);
      });
    },
    true
  );
})();
