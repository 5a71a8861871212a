/* Keyboard for the console: j/k move in the queue, o opens, a approves, r rejects with a reason,
   e edits, n goes to the next set. Every action is also a link or a button: this only clicks them.
   Loaded from /static (the CSP allows no inline script). */
(function () {
  "use strict";

  function typing(event) {
    var t = event.target;
    return t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT|BUTTON)$/.test(t.tagName) && t.type !== "checkbox" && t.type !== "submit");
  }

  function rows() { return Array.prototype.slice.call(document.querySelectorAll("#file tbody tr[data-href]")); }

  function selected() { return document.querySelector("#file tbody tr.choisie"); }

  function select(row) {
    var current = selected();
    if (current) { current.classList.remove("choisie"); current.removeAttribute("aria-selected"); }
    if (row) {
      row.classList.add("choisie");
      row.setAttribute("aria-selected", "true");
      row.scrollIntoView({block: "nearest"});
    }
  }

  function move(step) {
    var all = rows();
    if (!all.length) { return; }
    var index = all.indexOf(selected());
    index = index < 0 ? 0 : Math.min(all.length - 1, Math.max(0, index + step));
    select(all[index]);
  }

  function open(suffix) {
    var row = selected() || rows()[0];
    if (row) { window.location.href = row.dataset.href + (suffix || ""); }
  }

  function click(selector) {
    var element = document.querySelector(selector);
    if (element && !element.disabled) { element.click(); return true; }
    return false;
  }

  function onQueue(key) {
    if (key === "j") { move(1); }
    else if (key === "k") { move(-1); }
    else if (key === "o" || key === "Enter") { open(""); }
    else if (key === "a") {
      var row = selected();
      var button = row && row.querySelector(".approuver-ligne button");
      if (button && !button.disabled) {
        var all = rows(), index = all.indexOf(row);
        button.click();
        select(all[index + 1] || null);
      } else if (row) { open(""); }
    }
    else if (key === "r") { open(joiner() + "action=rejeter"); }
    else if (key === "e") { open(joiner() + "action=corriger"); }
    else if (key === "n") { move(1); open(""); }
    else { return false; }
    return true;
  }

  function joiner() {
    var row = selected() || rows()[0];
    return row && row.dataset.href.indexOf("?") >= 0 ? "&" : "?";
  }

  function focusReason() {
    var reason = document.getElementById("raison");
    if (reason) { reason.focus(); reason.scrollIntoView({block: "center"}); }
  }

  function focusEdit() {
    var box = document.querySelector("details.corriger");
    if (!box) { return; }
    box.open = true;
    var input = box.querySelector("input.valeur-corrigee");
    if (input) { input.focus(); input.select(); }
  }

  function onSet(key) {
    if (key === "a") { click("#approuver-tout"); }
    else if (key === "r") { focusReason(); }
    else if (key === "e") { focusEdit(); }
    else if (key === "n") { click("#ensemble-suivant"); }
    else if (key === "Escape") { click("#retour-file"); }
    else { return false; }
    return true;
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (typing(event)) {
      if (event.key === "Escape") { event.target.blur(); }
      return;
    }
    var kind = document.body.dataset.page;
    var handled = kind === "file" ? onQueue(event.key) : kind === "ensemble" ? onSet(event.key) : false;
    if (handled) { event.preventDefault(); }
  });

  document.addEventListener("DOMContentLoaded", function () {
    var params = new URLSearchParams(window.location.search);
    if (params.get("action") === "rejeter") { focusReason(); }
    if (params.get("action") === "corriger") { focusEdit(); }
    if (document.body.dataset.page === "file" && rows().length) { select(rows()[0]); }
  });

  /* htmx: every request carries the page's CSRF token too */
  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRF-Token"] = document.body.dataset.csrf;
  });
  /* the a-key's focus goes with the row htmx replaced: keep a row chosen after a swap */
  document.addEventListener("htmx:afterSwap", function () {
    if (!selected()) { var first = rows()[0]; if (first) { select(first); } }
  });
}());
