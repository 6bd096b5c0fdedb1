/* A league's live board: the page is complete without this script; every
 * 15 seconds it reads the board's JSON (data-league) and rewrites the rows. */
(function () {
  "use strict";
  var board = document.querySelector("[data-league]");
  if (!board || !window.fetch) {
    return;
  }
  var lang = document.documentElement.lang || undefined;
  var body = board.querySelector("[data-league-rows]");

  function money(value) {
    var format = new Intl.NumberFormat(lang, { style: "currency", currency: value.currency });
    var digits = format.resolvedOptions().maximumFractionDigits;
    var scale = Math.pow(10, digits);
    var whole = value.amount_minor % scale === 0;
    return new Intl.NumberFormat(lang, {
      style: "currency",
      currency: value.currency,
      minimumFractionDigits: whole ? 0 : digits,
      maximumFractionDigits: whole ? 0 : digits,
    }).format(value.amount_minor / scale);
  }

  function cell(tag, text, scope) {
    var element = document.createElement(tag);
    if (scope) {
      element.setAttribute("scope", scope);
    }
    element.textContent = text;
    return element;
  }

  function refresh() {
    fetch(board.getAttribute("data-league"), { headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (data) {
        if (!data) {
          return;
        }
        var rows = document.createDocumentFragment();
        data.standings.forEach(function (s) {
          var row = document.createElement("tr");
          row.appendChild(cell("td", String(s.rank)));
          row.appendChild(cell("th", s.name, "row"));
          row.appendChild(cell("td", money(s.raised)));
          row.appendChild(cell("td", new Intl.NumberFormat(lang).format(s.donor_count)));
          rows.appendChild(row);
        });
        body.replaceChildren(rows);
      })
      .catch(function () {});
  }

  window.setInterval(refresh, 15000);
})();
