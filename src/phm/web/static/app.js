// Draws every chart on the page from its JSON data block (no inline script: the CSP forbids it).
(function () {
  "use strict";
  var config = { responsive: true, displaylogo: false, modeBarButtonsToRemove: ["sendDataToCloud"] };
  document.querySelectorAll("script.figure").forEach(function (node) {
    var target = document.getElementById(node.getAttribute("data-target"));
    if (!target || typeof Plotly === "undefined") { return; }
    var fig = JSON.parse(node.textContent);
    Plotly.newPlot(target, fig.data, fig.layout, config).then(function () {
      target.setAttribute("data-rendered", "true");
    });
  });
})();
