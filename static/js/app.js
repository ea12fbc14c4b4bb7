/* Smart Sync: tiny helpers on top of htmx (served from django-htmx, no CDN). */
(function () {
  "use strict";

  function showMessage(text, kind) {
    var box = document.getElementById("messages");
    if (!box) return;
    var div = document.createElement("div");
    div.className = "alert alert-" + (kind || "error");
    div.setAttribute("role", "alert");
    div.textContent = text;
    box.appendChild(div);
    setTimeout(function () { div.remove(); }, 8000);
  }

  // htmx does not swap 4xx/5xx bodies; tell the person instead of failing silently.
  document.addEventListener("htmx:responseError", function (evt) {
    var xhr = evt.detail.xhr;
    var text = "Something went wrong (" + xhr.status + "). Please try again.";
    try {
      var body = JSON.parse(xhr.responseText);
      if (body && body.detail) text = body.detail;
    } catch (e) { /* not JSON: keep the generic text */ }
    if (xhr.status === 403 || xhr.status === 401) text = "Your session has expired. Please sign in again.";
    showMessage(text, "error");
  });

  document.addEventListener("htmx:sendError", function () {
    showMessage("Could not reach the server. Check your connection and try again.", "error");
  });
})();

/* Content-Security-Policy: htmx's eval is off (base.html), so hx-on attributes and trigger
   filters do nothing. Say so loudly instead of failing silently, and report any CSP violation
   to the console (tests/browser/test_csp.py fails on either). */
(function () {
  "use strict";
  document.addEventListener("htmx:evalDisallowedError", function (evt) {
    console.error("CSP: htmx needed eval (hx-on or a trigger filter) on", evt.target,
      "- move that behaviour to static/js/app.js");
  });
  document.addEventListener("securitypolicyviolation", function (evt) {
    console.error("CSP violation:", evt.violatedDirective, evt.blockedURI || "(inline)");
  });
})();

/* Live figures: elements with data-poll refresh with hx-trigger="every 5s"; skip the request
   while the tab is hidden (the CSP rules forbid htmx trigger filters, so it is done here). */
(function () {
  "use strict";
  document.addEventListener("htmx:beforeRequest", function (evt) {
    var elt = evt.detail && evt.detail.elt;
    if (elt && elt.hasAttribute && elt.hasAttribute("data-poll") && document.visibilityState !== "visible") {
      evt.preventDefault();
    }
  });
})();

/* A refused field stops saying it is wrong once the person types in it again: the error was about
   the value sent, not this one (the server checks again on the next step). Two races are
   covered: typing before this deferred script runs (DOMContentLoaded), and typing within htmx's
   settle delay after the refusal was swapped in (the field's class is the old one for 20 ms and
   comes back after): a refused field whose value is no longer the one sent is cleared then too. */
(function () {
  "use strict";
  function clear(input) {
    var field = input.closest(".field");
    input.removeAttribute("aria-invalid");
    if (!field) return;
    field.classList.remove("error");
    field.querySelectorAll(".field-error").forEach(function (e) { e.remove(); });
  }
  function sweep() {
    document.querySelectorAll('input[aria-invalid="true"], .field.error input').forEach(function (input) {
      if (input.value !== input.defaultValue) clear(input);
    });
  }
  document.addEventListener("input", function (evt) {
    var input = evt.target;
    if (input && input.getAttribute && input.getAttribute("aria-invalid") === "true") clear(input);
  });
  document.addEventListener("DOMContentLoaded", sweep);
  document.addEventListener("htmx:afterSettle", sweep);
})();
