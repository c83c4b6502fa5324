// Live updates without a build step: poll /live for the ledger's head; when a row lands,
// fetch this page again and refill its [data-region] parts. A region the user is typing in
// is kept unless its data-key (the run's state and gate) changed.
(function () {
  "use strict";
  var main = document.getElementById("main");
  if (!main || !main.dataset.live) { return; }
  var busy = false;

  function swap(doc) {
    document.querySelectorAll("[data-region][id]").forEach(function (old) {
      var fresh = doc.getElementById(old.id);
      if (!fresh) { return; }
      var keyChanged = (fresh.dataset.key || "") !== (old.dataset.key || "");
      var typing = old.contains(document.activeElement) && document.activeElement !== document.body;
      if (keyChanged || (!typing && fresh.innerHTML !== old.innerHTML)) {
        // the element stays, so an aria-live region announces its new content
        old.innerHTML = fresh.innerHTML;
        old.dataset.key = fresh.dataset.key || "";
      }
    });
  }

  function poll() {
    if (busy || document.hidden) { return; }
    busy = true;
    fetch(main.dataset.live, {credentials: "same-origin", cache: "no-store"})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (v) {
        if (!v || v.version === main.dataset.version) { return null; }
        return fetch(window.location.href, {credentials: "same-origin", cache: "no-store"})
          .then(function (r) { return r.ok ? r.text() : null; })
          .then(function (html) {
            if (!html) { return; }
            swap(new DOMParser().parseFromString(html, "text/html"));
            main.dataset.version = v.version;
          });
      })
      .catch(function () { /* the server restarted or the network blinked: try again */ })
      .then(function () { busy = false; });
  }

  window.setInterval(poll, 2000);
})();
