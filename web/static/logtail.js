// Follows a job's log on the job page: polls /jobs/{id}/log every second
// while the job runs and appends the new text to <pre id="log">. Text is
// only ever added as text nodes, never parsed as HTML.
(function () {
  "use strict";
  var pre = document.getElementById("log");
  if (!pre || pre.dataset.done === "true") {
    return;
  }
  var status = document.getElementById("log-status");
  var badge = document.getElementById("job-state");
  var src = pre.dataset.src;
  var attempt = parseInt(pre.dataset.attempt, 10) || 0;
  var offset = parseInt(pre.dataset.offset, 10) || 0;
  var failures = 0;

  function say(text) {
    if (status) {
      status.textContent = text;
    }
  }

  // Keep following the end only when the reader is already there.
  function atEnd() {
    return pre.scrollHeight - pre.scrollTop - pre.clientHeight < 24;
  }

  function append(text) {
    if (!text) {
      return;
    }
    var follow = atEnd();
    pre.appendChild(document.createTextNode(text));
    if (follow) {
      pre.scrollTop = pre.scrollHeight;
    }
  }

  function showState(state) {
    if (badge && state && badge.textContent !== state) {
      badge.textContent = state;
      badge.className = "badge job-" + state;
    }
  }

  function poll() {
    var url = src + "?attempt=" + encodeURIComponent(attempt) + "&offset=" + encodeURIComponent(offset);
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (res) {
        return res.json().then(function (body) {
          if (!res.ok) {
            throw new Error(body && body.error ? body.error : "HTTP " + res.status);
          }
          return body;
        });
      })
      .then(function (d) {
        failures = 0;
        if (d.attempt !== attempt && attempt !== 0) {
          append("\n── attempt " + d.attempt + " ──\n");
        }
        attempt = d.attempt;
        append(d.text);
        offset = d.offset;
        showState(d.state);
        if (d.done) {
          say("The job has ended (" + d.state + "). Reload the page for its final details.");
          return;
        }
        if (d.eof && d.latest > attempt) {
          // The attempt ended and a retry started: follow the new one.
          append("\n── attempt " + d.latest + " ──\n");
          attempt = d.latest;
          offset = 0;
          setTimeout(poll, 0);
          return;
        }
        say("Following the log…");
        setTimeout(poll, d.eof ? 1000 : 0);
      })
      .catch(function (err) {
        failures++;
        if (failures >= 5) {
          say("Stopped following the log: " + err.message + ". Reload the page to try again.");
          return;
        }
        say("Could not update the log (" + err.message + "); retrying…");
        setTimeout(poll, 2000 * failures);
      });
  }

  setTimeout(poll, 1000);
})();
