// The bank simulator's page: fetch the activity fragment every REFRESH ms and swap it in.
// Without this script the page still works; it only does not update on its own.
(function () {
  "use strict";

  var region = document.getElementById("activity");
  var toggle = document.getElementById("refresh-toggle");
  var state = document.getElementById("refresh-state");
  if (!region || !toggle || !state || !window.fetch) {
    return;
  }
  var url = region.getAttribute("data-refresh-url");
  var every = Number(region.getAttribute("data-refresh-ms")) || 1500;
  var paused = false;
  var stopped = false;
  var lastHtml = null;
  // Values a person chose in the fragment (a failure code), by control id, kept across swaps.
  var chosen = {};

  function sameContent(html) {
    // The CSRF token is masked differently on every render; it is not a change.
    return html.replace(/name="csrfmiddlewaretoken" value="[^"]*"/g, "");
  }

  function say(text) {
    // Only a real change is written, so that screen readers do not repeat the same words.
    if (state.textContent !== text) {
      state.textContent = text;
    }
  }

  function describe() {
    if (stopped) {
      say("Updates stopped: reload the page.");
    } else if (paused) {
      say("Updates paused.");
    } else {
      say("Updates every " + every / 1000 + " s.");
    }
  }

  function busy() {
    // Never swap the fragment under an open select: the person is choosing.
    var active = document.activeElement;
    return active && region.contains(active) && active.tagName === "SELECT";
  }

  function swap(html) {
    var active = document.activeElement;
    var focusedId = active && region.contains(active) ? active.id : "";
    region.innerHTML = html;
    Object.keys(chosen).forEach(function (id) {
      var control = document.getElementById(id);
      if (control) {
        control.value = chosen[id];
      } else {
        delete chosen[id];
      }
    });
    if (focusedId) {
      var again = document.getElementById(focusedId);
      if (again) {
        again.focus({ preventScroll: true });
      }
    }
  }

  function refresh() {
    if (paused || stopped || document.hidden || busy()) {
      schedule();
      return;
    }
    fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" }, cache: "no-store" })
      .then(function (response) {
        if (response.redirected || response.status === 403) {
          // Signed out (or no longer staff): a reload shows why.
          stopped = true;
          toggle.hidden = true;
          describe();
          return;
        }
        if (!response.ok) {
          throw new Error("status " + response.status);
        }
        return response.text().then(function (html) {
          var content = sameContent(html);
          if (content !== lastHtml && !busy()) {
            lastHtml = content;
            swap(html);
          }
          describe();
          schedule();
        });
      })
      .catch(function () {
        // The server may be restarting: say so and try again a little later.
        say("Could not refresh; trying again.");
        window.setTimeout(refresh, every * 4);
      });
  }

  function schedule() {
    window.setTimeout(refresh, every);
  }

  region.addEventListener("change", function (event) {
    var target = event.target;
    if (target && target.id && target.tagName === "SELECT") {
      chosen[target.id] = target.value;
    }
  });

  toggle.addEventListener("click", function () {
    paused = !paused;
    toggle.setAttribute("aria-pressed", paused ? "true" : "false");
    toggle.textContent = paused ? "Resume updates" : "Pause updates";
    describe();
  });

  toggle.hidden = false;
  describe();
  schedule();
})();
