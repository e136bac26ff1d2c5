// Small behaviours of the portal's pages, bound by data attributes: the
// Content-Security-Policy allows no inline script or event handler.
(function () {
  "use strict";
  // <input data-select-on-click>: one click selects the value (a new token's key).
  document.addEventListener("click", function (event) {
    var target = event.target;
    if (target instanceof HTMLInputElement && target.hasAttribute("data-select-on-click")) {
      target.select();
    }
  });
  // <button data-dialog-open="id">: opens <dialog id="id">; a
  // <button data-dialog-close> inside it closes it.
  document.addEventListener("click", function (event) {
    var opener = event.target instanceof Element ? event.target.closest("[data-dialog-open]") : null;
    if (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-dialog-open"));
      if (dialog && typeof dialog.showModal === "function") {
        event.preventDefault();
        dialog.showModal();
      }
      return;
    }
    var closer = event.target instanceof Element ? event.target.closest("[data-dialog-close]") : null;
    if (closer) {
      var open = closer.closest("dialog");
      if (open) { event.preventDefault(); open.close(); }
    }
  });
})();
