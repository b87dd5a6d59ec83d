// "Get notifications in this browser" on the reporter's report page: only when the server offers Web Push (the
// button is there only with a VAPID key) and only when the reporter taps it. It registers the app's service worker,
// asks the browser for a push subscription with the server's key, and gives it to intake.
(function () {
  "use strict";
  var button = document.getElementById("push-subscribe");
  if (!button) return;
  var status = document.getElementById("push-status");
  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) {
    button.hidden = true;
    return;
  }
  function say(text) { if (status) status.textContent = text; }
  function keyBytes(b64) {
    var padded = (b64 + "===".slice((b64.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(padded), out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }
  function csrf() {
    var field = document.querySelector('input[name="csrf_token"]');
    return field ? field.value : "";
  }
  button.addEventListener("click", function () {
    button.disabled = true;
    Notification.requestPermission().then(function (permission) {
      if (permission !== "granted") throw new Error("denied");
      return navigator.serviceWorker.register("/intake/sw.js", { scope: "/intake/" });
    }).then(function () {
      return navigator.serviceWorker.ready;
    }).then(function (registration) {
      return registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(button.dataset.key) });
    }).then(function (subscription) {
      return fetch("/api/intake/v1/me/push-subscriptions", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
        body: JSON.stringify(subscription.toJSON())
      });
    }).then(function (response) {
      if (!response.ok) throw new Error("HTTP " + response.status);
      say(button.dataset.done);
      button.hidden = true;
    }).catch(function () {
      say(button.dataset.failed);
      button.disabled = false;
    });
  });
})();
