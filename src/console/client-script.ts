/**
 * @module client-script
 * The console's only client script, served at /console/static/console.js.
 * Every page works without it; it adds live updates. An element with
 * `data-live="<url>"` opens a server-sent event stream there; on each
 * event the page is fetched again (through its own access-checked route)
 * and every `data-live-region` is swapped for its fresh copy, except one
 * the person is typing in. A region announces changes politely to screen
 * readers (`aria-live`).
 */
export const CONSOLE_JS = `"use strict";
(function () {
  var liveStatus = document.getElementById("live-status");
  function say(text) { if (liveStatus) liveStatus.textContent = text; }
  var refreshing = false, again = false;
  function refresh() {
    if (refreshing) { again = true; return; }
    refreshing = true;
    fetch(location.href, { credentials: "same-origin", headers: { accept: "text/html" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html) return;
        var fresh = new DOMParser().parseFromString(html, "text/html");
        document.querySelectorAll("[data-live-region]").forEach(function (region) {
          var typing = region.contains(document.activeElement) && document.activeElement.value;
          var replacement = fresh.getElementById(region.id);
          if (replacement && !typing) region.replaceWith(document.importNode(replacement, true));
        });
      })
      .catch(function () { say("Could not refresh; reload the page to see the latest."); })
      .finally(function () { refreshing = false; if (again) { again = false; refresh(); } });
  }
  document.querySelectorAll("[data-live]").forEach(function (element) {
    if (!window.EventSource) return;
    var source = new EventSource(element.getAttribute("data-live"));
    source.onopen = function () { say("Live: this page updates as approvals change."); };
    source.onerror = function () { say("Live updates interrupted; reconnecting…"); };
    source.addEventListener("approval", function () { refresh(); });
  });
})();
`;
