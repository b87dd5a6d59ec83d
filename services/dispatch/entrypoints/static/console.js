// The dispatch console, the Steering Committee page and the emergency desk page reload themselves every
// data-refresh-s seconds while nobody is using a form, so that new reports, deadlines turning amber or red
// and unacknowledged emergencies appear without a click. A separate file: the pages allow no inline script.
(function () {
  "use strict";
  var root = document.querySelector("[data-refresh-s]");
  if (!root) { return; }
  var seconds = parseInt(root.getAttribute("data-refresh-s"), 10) || 30;
  var busy = false;  // once a person typed or opened a form, the page waits for them
  document.addEventListener("input", function () { busy = true; }, true);
  document.addEventListener("change", function () { busy = true; }, true);

  function fresh() {
    // The same list without the one-time "done" message of the last action.
    var url = new URL(window.location.href);
    ["done", "report", "service"].forEach(function (name) { url.searchParams.delete(name); });
    return url.toString();
  }

  window.setInterval(function () {
    var active = document.activeElement;
    var inForm = active && /^(INPUT|TEXTAREA|SELECT|BUTTON)$/.test(active.tagName);
    var open = document.querySelector("details[open]");
    if (!busy && !inForm && !open && document.visibilityState !== "hidden") {
      window.location.replace(fresh());
    }
  }, seconds * 1000);
})();
