/* Relais live totals and leaderboards (Server-Sent Events).
 *
 * Progressive enhancement: the pages are complete without this script. For
 * every element with data-live-stream="<url>" it opens one EventSource and, on
 * each "totals" message, updates inside that element:
 *   [data-live="cause-raised"]      the amount, formatted for <html lang>
 *   [data-live="cause-donations"], [data-live="cause-donors"]
 *                                   a count; data-live-one / data-live-other hold
 *                                   the phrase with {n} (Intl.PluralRules picks)
 *   [data-live="cause-progress"]    a <progress> (value, max 100) or a bar (width %);
 *                                   data-live-label ("{pct}% …") becomes its aria-label
 *   [data-live-page="<slug>"][data-live="page-raised" | "page-donors" | "page-rank"]
 *   [data-live="match-left"][data-live-match="<id>"]
 *                                   what is left of a match challenge (message.matches)
 *   [data-live-board="pages" | "events"]
 *                                   a list re-ordered from the message's leaderboard:
 *                                   rows are <li data-live-page="<slug>">, kept when
 *                                   present, else cloned from <template data-live-row>;
 *                                   data-live-limit rows at most; [data-live-empty]
 *                                   shows when the board is empty
 * data-live-format on an element ("{amount} raised") wraps the amount it shows.
 * The element gets data-live-version (the last version seen), and a polite live
 * region announces new totals (data-live-announce, "{amount} raised so far")
 * without moving focus. EventSource reconnects by itself and sends the last id.
 */
(function () {
  "use strict";
  if (!window.EventSource || !document.querySelectorAll) {
    return;
  }
  var lang = document.documentElement.lang || undefined;
  var plurals = window.Intl && Intl.PluralRules ? new Intl.PluralRules(lang) : null;

  function each(root, selector, callback) {
    Array.prototype.forEach.call(root.querySelectorAll(selector), callback);
  }

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (match, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? values[name] : match;
    });
  }

  function money(value) {
    var currency = value.currency;
    var digits = new Intl.NumberFormat(lang, { style: "currency", currency: currency })
      .resolvedOptions().maximumFractionDigits;
    var scale = Math.pow(10, digits);
    // Whole amounts without decimals, as the server writes them ("2 400 €").
    var whole = value.amount_minor % scale === 0;
    return new Intl.NumberFormat(lang, {
      style: "currency",
      currency: currency,
      minimumFractionDigits: whole ? 0 : digits,
      maximumFractionDigits: whole ? 0 : digits,
    }).format(value.amount_minor / scale);
  }

  function showAmount(element, value) {
    var format = element.getAttribute("data-live-format") || "{amount}";
    element.textContent = fill(format, { amount: money(value) });
  }

  function showCount(element, count) {
    var form = plurals ? plurals.select(count) : count === 1 ? "one" : "other";
    var template =
      element.getAttribute("data-live-" + form) || element.getAttribute("data-live-other");
    var number = new Intl.NumberFormat(lang).format(count);
    element.textContent = template ? fill(template, { n: number }) : number;
  }

  function showProgress(element, raised, goal) {
    if (!goal) {
      return;
    }
    var pct = Math.max(0, Math.min(100, Math.floor((raised * 100) / goal)));
    if (element.tagName === "PROGRESS") {
      element.max = 100;
      element.value = pct;
      element.textContent = pct + "%";
    } else {
      element.style.width = pct + "%";
    }
    var label = element.getAttribute("data-live-label");
    if (label) {
      element.setAttribute("aria-label", fill(label, { pct: pct }));
    }
  }

  function pageElements(root, slug, kind) {
    var selector = '[data-live-page="' + (window.CSS && CSS.escape ? CSS.escape(slug) : slug) +
      '"][data-live="' + kind + '"]';
    return root.querySelectorAll(selector);
  }

  function showPage(root, slug, figures) {
    Array.prototype.forEach.call(pageElements(root, slug, "page-raised"), function (element) {
      showAmount(element, figures.raised);
    });
    Array.prototype.forEach.call(pageElements(root, slug, "page-donors"), function (element) {
      showCount(element, figures.donor_count);
    });
    Array.prototype.forEach.call(pageElements(root, slug, "page-rank"), function (element) {
      element.textContent = figures.rank;
    });
  }

  function newRow(container, board, row) {
    var template = container.querySelector('template[data-live-row="' + board + '"]');
    var item;
    if (template && template.content && template.content.firstElementChild) {
      item = template.content.firstElementChild.cloneNode(true);
    } else {
      item = document.createElement("li");
      item.innerHTML = '<a data-live="page-link"></a> <span class="figure" data-live="page-raised"></span>';
    }
    each(item, '[data-live="page-link"]', function (link) {
      link.href = row.url;
      link.textContent = row.title;
    });
    each(item, '[data-live="page-city"]', function (city) {
      city.textContent = row.city || "";
    });
    return item;
  }

  function renderBoard(container, list, rows) {
    var board = list.getAttribute("data-live-board");
    var limit = parseInt(list.getAttribute("data-live-limit") || "10", 10);
    var kept = {};
    Array.prototype.forEach.call(list.children, function (item) {
      var slug = item.getAttribute("data-live-page");
      if (slug) {
        kept[slug] = item;
      }
    });
    rows.slice(0, limit).forEach(function (row) {
      var item = kept[row.slug] || newRow(container, board, row);
      delete kept[row.slug];
      item.setAttribute("data-live-page", row.slug);
      // A new row's figures learn their page; a kept row's (and its members') know theirs.
      each(item, '[data-live="page-raised"], [data-live="page-donors"], [data-live="page-rank"]',
        function (element) {
          if (!element.hasAttribute("data-live-page")) {
            element.setAttribute("data-live-page", row.slug);
          }
        });
      showPage(item, row.slug, row);
      list.appendChild(item); // moves an existing row into its new place
    });
    Object.keys(kept).forEach(function (slug) {
      list.removeChild(kept[slug]);
    });
    var empty = rows.length === 0;
    list.hidden = empty;
    each(container, '[data-live-empty="' + board + '"]', function (element) {
      element.hidden = !empty;
    });
  }

  function announce(container, data) {
    var template = container.getAttribute("data-live-announce");
    if (!template) {
      return;
    }
    var region = container.querySelector("[data-live-region]");
    if (!region) {
      region = document.createElement("p");
      region.className = "visually-hidden";
      region.setAttribute("data-live-region", "");
      region.setAttribute("role", "status");
      region.setAttribute("aria-live", "polite");
      container.appendChild(region);
    }
    region.textContent = fill(template, { amount: money(data.raised) });
  }

  function apply(container, data, version) {
    var previous = container.getAttribute("data-live-raised");
    each(container, '[data-live="cause-raised"]', function (element) {
      showAmount(element, data.raised);
    });
    each(container, '[data-live="cause-donations"]', function (element) {
      showCount(element, data.donation_count);
    });
    each(container, '[data-live="cause-donors"]', function (element) {
      showCount(element, data.donor_count);
    });
    each(container, '[data-live="cause-progress"]', function (element) {
      showProgress(element, data.raised.amount_minor, data.goal.amount_minor);
    });
    var boards = data.leaderboards || {};
    each(container, "[data-live-board]", function (list) {
      var rows = boards[list.getAttribute("data-live-board")];
      if (rows) {
        renderBoard(container, list, rows);
      }
    });
    var matches = data.matches || {};
    each(container, '[data-live="match-left"]', function (element) {
      var match = matches[element.getAttribute("data-live-match")];
      if (match) {
        showAmount(element, match.left);
      }
    });
    Object.keys(data.pages || {}).forEach(function (slug) {
      showPage(container, slug, data.pages[slug]);
    });
    var raised = String(data.raised.amount_minor);
    container.setAttribute("data-live-raised", raised);
    container.setAttribute("data-live-version", version || String(data.version));
    // The first message only confirms what the page shows: nothing to announce.
    if (previous !== null && previous !== raised) {
      announce(container, data);
    }
  }

  function connect(container) {
    var source = new EventSource(container.getAttribute("data-live-stream"));
    source.addEventListener("totals", function (event) {
      var data;
      try {
        data = JSON.parse(event.data);
      } catch (error) {
        return;
      }
      apply(container, data, event.lastEventId);
    });
  }

  function start() {
    each(document, "[data-live-stream]", connect);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
