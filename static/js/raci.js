/* RACI grid: a search box narrows the people list of its picker, and the
   names under each picker follow the selection. Served by the portal (no
   inline script: the Content-Security-Policy allows scripts from 'self').
   Works on the grid HTMX swaps in, by delegating from the document. */
(function () {
  "use strict";

  function picker(input) {
    return document.getElementById(input.getAttribute("data-filters"));
  }

  function filter(input) {
    var select = picker(input);
    if (!select) { return; }
    var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
    Array.prototype.forEach.call(select.options, function (option) {
      var text = option.text.toLowerCase();
      var match = words.every(function (w) { return text.indexOf(w) !== -1; });
      // A chosen person stays visible, so a search never hides a choice.
      option.hidden = !(match || option.selected);
    });
  }

  function showChosen(select) {
    var target = document.querySelector('[data-chosen-for="' + select.id + '"]');
    if (!target) { return; }
    target.textContent = "";
    var names = Array.prototype.filter.call(select.options, function (o) { return o.selected; });
    if (!names.length) {
      var none = document.createElement("span");
      none.className = "muted";
      none.textContent = "—";
      target.appendChild(none);
    }
    names.forEach(function (option) {
      var chip = document.createElement("span");
      chip.className = "person";
      chip.textContent = option.text;
      target.appendChild(chip);
    });
  }

  document.addEventListener("input", function (event) {
    var el = event.target;
    if (el.classList && el.classList.contains("people-search")) { filter(el); }
  });
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el.classList && el.classList.contains("people-picker")) { showChosen(el); }
  });
  // Enter in the new-activity box adds the activity (not "Save RACI", the
  // form's first button); Enter in a search box does nothing.
  document.addEventListener("keydown", function (event) {
    var el = event.target;
    if (event.key !== "Enter" || !el.closest || !el.closest("#raci-grid")) { return; }
    if (el.classList.contains("people-search")) {
      event.preventDefault();
    } else if (el.closest(".add-activity") && el.tagName === "INPUT") {
      event.preventDefault();
      var add = el.closest("#raci-grid").querySelector("[data-add-activity]");
      if (add) { add.click(); }
    }
  });
})();
