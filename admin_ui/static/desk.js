// The window and desk pages: a print button (no inline handlers: the CSP forbids them).
(function () {
  function bind() {
    document.querySelectorAll("[data-print]").forEach(function (b) {
      b.addEventListener("click", function () { window.print(); });
    });
  }
  // run once the page is read, and again when htmx puts a new body in place (this script is in it)
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", bind); else bind();
})();
