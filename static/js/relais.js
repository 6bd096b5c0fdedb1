/* Relais: the small behaviours of the pages, all in one file so that the
 * Content-Security-Policy needs no inline script ('self' only). Each part looks
 * for the data-* attributes of its page and does nothing elsewhere; the pages
 * work without it (progressive enhancement). Translated strings come from the
 * page's data-* attributes, never from this file. */
(function () {
  "use strict";
  var enc = encodeURIComponent;

  function ready(fn) {
    if (document.readyState !== "loading") { fn(); } else { document.addEventListener("DOMContentLoaded", fn); }
  }

  // A page's "Copy link" button (page.html).
  function pageLink() {
    var button = document.querySelector("[data-copy-link]");
    if (!button || !navigator.clipboard) return;
    var input = document.getElementById(button.getAttribute("data-copy-link"));
    var status = document.querySelector("[data-copy-link-status]");
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(input.value).then(function () {
        status.textContent = status.getAttribute("data-copied");
      }, function () { input.select(); });
    });
  }

  // Share buttons: the phone's own share sheet, where the browser has one.
  function webShare() {
    if (!navigator.share) return;
    document.querySelectorAll("[data-web-share]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        navigator.share({
          title: document.title,
          text: button.getAttribute("data-text"),
          url: button.getAttribute("data-url")
        }).catch(function () {});  // the reader closed the sheet: nothing to do
      });
    });
  }

  // The share kit: edited posts update their intent links; copy buttons.
  function shareKit() {
    document.querySelectorAll("[data-share-post]").forEach(function (post) {
      var text = post.querySelector("[data-text]");
      var subject = post.querySelector("[data-subject]");
      var status = post.querySelector(".copy-status");
      var url = post.getAttribute("data-url");
      if (!text) return;
      function update() {
        var x = post.querySelector("[data-link=x]");
        if (x) {
          var href = "https://twitter.com/intent/tweet?text=" + enc(text.value);
          if (text.value.indexOf(url) < 0) { href += "&url=" + enc(url); }
          x.href = href;
        }
        var mail = post.querySelector("[data-link=mailto]");
        if (mail) {
          mail.href = "mailto:?subject=" + enc(subject ? subject.value : "") + "&body=" + enc(text.value);
        }
      }
      text.addEventListener("input", update);
      if (subject) { subject.addEventListener("input", update); }
      var button = post.querySelector("[data-copy]");
      if (button && navigator.clipboard) {
        button.hidden = false;
        button.addEventListener("click", function () {
          navigator.clipboard.writeText(text.value).then(function () {
            status.textContent = status.getAttribute("data-copied");
          }, function () { text.select(); });
        });
      }
    });
  }

  // The page form suggests a web address while the title is typed, until the
  // address is edited by hand.
  function slugFromTitle() {
    var title = document.getElementById("title"), slug = document.getElementById("slug");
    if (!title || !slug || slug.value || !slug.form || !slug.form.hasAttribute("data-suggest-slug")) return;
    var touched = false;
    slug.addEventListener("input", function () { touched = true; });
    title.addEventListener("input", function () {
      if (touched) return;
      slug.value = title.value.normalize("NFKD").replace(/[\u0300-\u036f]/g, "")
        .toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 60);
    });
  }

  // The give form: typing an amount picks "Other amount"; picking a suggested
  // amount clears it. The error summary takes the focus.
  function giveForm() {
    var summary = document.getElementById("give-errors");
    if (summary) summary.focus();
    var form = document.querySelector(".give-form");
    if (!form) return;
    var other = form.querySelector("#other_amount");
    var radios = form.querySelectorAll("input[name=amount]");
    if (!other) return;
    other.addEventListener("input", function () {
      radios.forEach(function (r) { r.checked = r.value === "other"; });
    });
    radios.forEach(function (r) {
      r.addEventListener("change", function () { if (r.value !== "other") other.value = ""; });
    });
  }

  // The receipt's print button.
  function printButton() {
    var button = document.querySelector("[data-print]");
    if (!button || !window.print) return;
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  }

  // Staff template form: a live preview on a real page while staff type.
  function templatePreview() {
    var form = document.getElementById("template-form");
    var box = document.querySelector("[data-preview-body]");
    if (!form || !box || !window.fetch || !window.FormData) return;
    var labels = {
      subject: box.getAttribute("data-label-subject"),
      on: box.getAttribute("data-label-on"),
      length: box.getAttribute("data-label-length"),
      html: box.getAttribute("data-label-html")
    };
    var timer = null;
    function el(tag, text, cls) {
      var e = document.createElement(tag);
      if (text) e.textContent = text;
      if (cls) e.className = cls;
      return e;
    }
    function show(data) {
      box.textContent = "";
      var meta = el("p", labels.on + " “" + (data.page || "") + "”." +
        (data.limit ? " " + labels.length + ": " + data.length + " / " + data.limit + "." : ""), "meta");
      box.appendChild(meta);
      var errors = Object.keys(data.errors || {});
      if (errors.length) {
        var ul = el("ul", "", "field-errors");
        errors.forEach(function (k) { ul.appendChild(el("li", data.errors[k])); });
        box.appendChild(ul);
      }
      if (data.subject) {
        var p = el("p");
        p.appendChild(el("strong", labels.subject));
        p.appendChild(document.createTextNode(" " + data.subject));
        box.appendChild(p);
      }
      box.appendChild(el("pre", data.text || "", "preview-text"));
      if (data.html) {
        var frame = document.createElement("iframe");
        frame.setAttribute("sandbox", "");
        frame.title = labels.html;
        frame.width = "100%";
        frame.height = "300";
        frame.srcdoc = data.html;
        box.appendChild(frame);
      }
    }
    function refresh() {
      fetch(form.getAttribute("data-preview-url"), {
        method: "POST", body: new FormData(form), credentials: "same-origin",
        headers: {"Accept": "application/json"}
      }).then(function (r) { return r.json(); }).then(show).catch(function () {});
    }
    form.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(refresh, 400); });
    form.addEventListener("change", function () { clearTimeout(timer); timer = setTimeout(refresh, 100); });
  }

  // Collapsed sections (the staff dashboard's <details>): a link to a part of
  // one, or an address ending in its #anchor, opens it first.
  function openTargets() {
    if (!document.querySelector("details[data-opens-on-link]")) return;
    function open(hash) {
      var id = (hash || "").slice(1);
      var target = id && document.getElementById(decodeURIComponent(id));
      var details = target && target.closest("details[data-opens-on-link]");
      if (details && !details.open) { details.open = true; target.scrollIntoView(); }
    }
    open(location.hash);
    window.addEventListener("hashchange", function () { open(location.hash); });
    document.addEventListener("click", function (event) {
      var link = event.target.closest && event.target.closest("a[href^='#']");
      if (link) { open(link.getAttribute("href")); }
    });
  }

  // The give form's "cover the fees" label: the exact amount for the amount
  // chosen, by the formula of campaigns/giving/covers.py (integers only).
  function feeCover() {
    var box = document.querySelector("[data-fee-cover]");
    if (!box) return;
    var form = box.closest("form");
    var label = box.querySelector("[data-fee-cover-label] label") || box.querySelector("[data-fee-cover-label]");
    var parts = box.getAttribute("data-percent").split(".");
    var decimals = (parts[1] || "").slice(0, 3);
    while (decimals.length < 3) decimals += "0";
    var perMille = parseInt(parts[0], 10) * 1000 + parseInt(decimals, 10); // percent × 1000
    var fixed = parseInt(box.getAttribute("data-fixed"), 10);
    var exponent = parseInt(box.getAttribute("data-exponent"), 10);
    var currency = box.getAttribute("data-currency");
    var format = new Intl.NumberFormat(box.getAttribute("data-locale"), { style: "currency", currency: currency });
    function fee(gross) { return Math.floor((2 * gross * perMille + 100000) / 200000) + fixed; }
    function gross(amount) {
      var g = Math.ceil((amount + fixed) * 100000 / (100000 - perMille));
      while (g - fee(g) < amount) g += 1;
      while (g > amount && (g - 1) - fee(g - 1) >= amount) g -= 1;
      return g;
    }
    function chosen() {
      var other = form.querySelector("[name=other_amount]");
      var picked = form.querySelector("[name=amount]:checked");
      var text = other && other.value.trim() ? other.value : (picked ? picked.value : "");
      var value = parseFloat(String(text).replace(/\s/g, "").replace(",", "."));
      return isFinite(value) && value > 0 ? Math.round(value * Math.pow(10, exponent)) : 0;
    }
    function show() {
      var amount = chosen();
      if (!amount) return;
      var unit = Math.pow(10, exponent);
      label.textContent = box.getAttribute("data-template")
        .replace("{cover}", format.format((gross(amount) - amount) / unit))
        .replace("{amount}", format.format(amount / unit));
    }
    form.addEventListener("change", show);
    form.addEventListener("input", show);
    show();
  }

  ready(function () {
    openTargets();
    feeCover();
    pageLink();
    webShare();
    shareKit();
    slugFromTitle();
    giveForm();
    printButton();
    templatePreview();
  });
})();
