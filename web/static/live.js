// Refreshes the live part of a deployment page: every data-refresh
// seconds it fetches data-live-src, a fragment the server renders with the
// page's own template, and swaps the element of the same id for the new
// one. The fragment is parsed as an inert document (its scripts never
// run) and only then adopted. Polling pauses while the tab is hidden.
(function () {
  "use strict";
  var box = document.querySelector("[data-live-src]");
  if (!box) {
    return;
  }
  var status = document.getElementById("live-status");
  var src = box.dataset.liveSrc;
  var every = (parseInt(box.dataset.refresh, 10) || 5) * 1000;
  var failures = 0;
  var timer = null;

  function say(text) {
    if (status) {
      status.textContent = text;
    }
  }

  function schedule(ms) {
    clearTimeout(timer);
    timer = setTimeout(poll, ms);
  }

  function poll() {
    if (document.hidden) {
      return; // resumed by visibilitychange
    }
    fetch(src, { credentials: "same-origin", cache: "no-store", redirect: "manual" })
      .then(function (res) {
        if (res.type === "opaqueredirect") {
          throw new Error("signed out");
        }
        if (!res.ok) {
          throw new Error("HTTP " + res.status);
        }
        return res.text();
      })
      .then(function (html) {
        var body = new DOMParser().parseFromString(html, "text/html").body;
        if (!body.firstElementChild) {
          throw new Error("empty answer");
        }
        box.replaceChildren.apply(box, Array.prototype.slice.call(body.childNodes).map(function (n) {
          return document.adoptNode(n);
        }));
        failures = 0;
        say("Updated " + new Date().toLocaleTimeString() + "; refreshes every " + every / 1000 + " s.");
        schedule(every);
      })
      .catch(function (err) {
        failures++;
        if (err.message === "signed out" || failures >= 5) {
          say("Stopped refreshing (" + err.message + "). Reload the page to try again.");
          return;
        }
        say("Could not refresh (" + err.message + "); retrying…");
        schedule(every * failures);
      });
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) {
      schedule(0);
    }
  });
  schedule(every);
})();
