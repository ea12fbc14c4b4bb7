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
