// dumpsig HTML report: sortable bucket table, opening a linked bucket's details, printing.
(function () {
  "use strict";
  var table = document.getElementById("buckets");

  // Sort key of a cell; null when unknown (always sorted last).
  function key(row, col, type) {
    var cell = row.cells[col];
    var raw = cell ? cell.getAttribute("data-sort") : null;
    if (raw === null) { raw = cell ? cell.textContent : ""; }
    if (type === "text") { return raw.toLowerCase(); }
    if (raw === "") { return null; }
    var n = parseFloat(raw);
    return isNaN(n) ? null : n;
  }

  function sortBy(th, col) {
    var type = th.getAttribute("data-type");
    var current = th.getAttribute("aria-sort");
    // Same column: toggle. New column: numbers and dates start descending, text ascending.
    var dir = current ? (current === "ascending" ? -1 : 1) : (type === "text" ? 1 : -1);
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var ka = key(a, col, type), kb = key(b, col, type);
      var c = 0;
      if (ka === null || kb === null) {
        c = ka === kb ? 0 : (ka === null ? 1 : -1);
      } else if (ka !== kb) {
        c = (ka < kb ? -1 : 1) * dir;
      }
      return c || (Number(a.getAttribute("data-order")) - Number(b.getAttribute("data-order")));
    });
    rows.forEach(function (r) { body.appendChild(r); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
  }

  if (table && table.tHead && table.tBodies.length) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      if (!th.hasAttribute("data-type")) { return; }
      th.tabIndex = 0;
      th.title = "Sort by " + th.textContent;
      th.addEventListener("click", function () { sortBy(th, col); });
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sortBy(th, col); }
      });
    });
  }

  // Open a bucket's <details> when it is the link target.
  function openTarget() {
    var id = window.location.hash.slice(1);
    var el = id ? document.getElementById(id) : null;
    if (el && el.tagName === "DETAILS") { el.open = true; }
  }
  window.addEventListener("hashchange", openTarget);
  openTarget();

  // Print everything, including collapsed sections.
  window.addEventListener("beforeprint", function () {
    Array.prototype.forEach.call(document.querySelectorAll("details.bucket"), function (d) { d.open = true; });
  });

  document.body.dataset.ready = "1";
})();
