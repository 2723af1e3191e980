// Sortable tables: click a header to sort by its column; missing values ("—") always go last.
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th[data-sort] button").forEach(function (button) {
    button.addEventListener("click", function () {
      var header = button.parentElement;
      var descending = header.getAttribute("aria-sort") !== "descending";
      table.querySelectorAll("th").forEach(function (h) { h.removeAttribute("aria-sort"); });
      header.setAttribute("aria-sort", descending ? "descending" : "ascending");
      var index = header.cellIndex, numeric = header.dataset.sort === "number", body = table.tBodies[0];
      var key = function (row) {
        var raw = row.cells[index].dataset.value;
        if (raw === undefined || raw === "") return null;
        return numeric ? parseFloat(raw) : raw.toLowerCase();
      };
      Array.from(body.rows).sort(function (a, b) {
        var x = key(a), y = key(b);
        if (x === null || y === null) return (x === null) - (y === null);
        return (x < y ? -1 : x > y ? 1 : 0) * (descending ? -1 : 1);
      }).forEach(function (row) { body.appendChild(row); });
    });
  });
});
