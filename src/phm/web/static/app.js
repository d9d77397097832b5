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

// Filters a table's rows by the words typed in its filter box (a row stays when it contains
// every word). The box is shown only when this script runs; without it every row is listed.
(function () {
  "use strict";
  document.querySelectorAll("input[data-filter]").forEach(function (input) {
    var table = document.getElementById(input.getAttribute("data-filter"));
    var box = input.closest(".table-filter");
    if (!table || !table.tBodies.length || !box) { return; }
    var count = box.querySelector(".filter-count");
    var rows = Array.prototype.slice.call(table.tBodies[0].rows);
    var texts = rows.map(function (r) {
      return Array.prototype.map.call(r.cells, function (c) { return c.textContent; }).join("\t").toLowerCase();
    });
    function apply() {
      var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      var shown = 0;
      rows.forEach(function (r, i) {
        var keep = words.every(function (w) { return texts[i].indexOf(w) !== -1; });
        r.hidden = !keep;
        if (keep) { shown += 1; }
      });
      count.textContent = words.length ? "Showing " + shown + " of " + rows.length + " rows" : "All " + rows.length + " rows";
    }
    input.addEventListener("input", apply);
    box.hidden = false;
    apply();
  });
})();
