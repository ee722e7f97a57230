/* A guest ticket's page: its sessions table refreshes itself. The admin renders the table inside
   <div id="guest-sessions" data-url="…" data-interval="5">; this polls that URL (an HTML fragment,
   same origin, same session cookie) and swaps the table in. Nothing from outside passgate. */
(function () {
  "use strict";
  function start() {
    var box = document.getElementById("guest-sessions");
    if (!box || !box.dataset.url || !window.fetch) { return; }
    var seconds = Math.max(parseInt(box.dataset.interval, 10) || 5, 2);
    var busy = false;
    function refresh() {
      if (busy || document.hidden) { return; }
      busy = true;
      fetch(box.dataset.url, {credentials: "same-origin", cache: "no-store",
                              headers: {"X-Requested-With": "XMLHttpRequest"}})
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) { if (html !== null) { box.innerHTML = html; } })
        .catch(function () { /* offline for a moment: the next tick tries again */ })
        .then(function () { busy = false; });
    }
    window.setInterval(refresh, seconds * 1000);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
