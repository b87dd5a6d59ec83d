/* PAHT citizen app's service worker, served as /intake/sw.js so that its scope is /intake/.
 *
 * It keeps the app shell on the phone (the report page, its styles and scripts, Leaflet, the icons) so
 * that the report form opens without a connection; drafts and the outbox live in the page's own storage
 * (report.js). Pages: the network first (the server knows the session and draws a fresh CSRF token),
 * the copy on the phone when the network fails or is too slow. Static files: the copy at once, refreshed
 * in the background. The API is never touched: a request that cannot go fails, and report.js keeps it.
 * __VERSION__ is replaced by the server with a digest of the shell's files: a changed file means a new
 * worker, a new cache, and the old one deleted.
 */
"use strict";

var VERSION = "__VERSION__";
var CACHE = "paht-intake-" + VERSION;
var PAGE_TIMEOUT_MS = 5000;
var SHELL = [
  "/intake/report",
  "/static/paht.css",
  "/static/intake/intake.css",
  "/static/favicon.svg",
  "/static/intake/intake.js",
  "/static/intake/report.js",
  "/static/intake/app.webmanifest",
  "/static/intake/icon-192.png",
  "/static/vendor/leaflet/leaflet.js",
  "/static/vendor/leaflet/leaflet.css",
  "/static/vendor/leaflet/images/marker-icon.png",
  "/static/vendor/leaflet/images/marker-icon-2x.png",
  "/static/vendor/leaflet/images/marker-shadow.png",
];
var PAGES = ["/intake/report"];  // "my reports" holds personal data: never kept in this cache

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) { return cache.addAll(SHELL); }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (n) { return n.indexOf("paht-intake-") === 0 && n !== CACHE; })
      .map(function (n) { return caches.delete(n); }));
  }).then(function () { return self.clients.claim(); }));
});

function pageKey(url) {
  return PAGES.indexOf(url.pathname) >= 0 ? url.pathname : null;
}

function networkFirst(request, key) {
  return caches.open(CACHE).then(function (cache) {
    var fromNetwork = fetch(request).then(function (response) {
      if (response.ok && response.status === 200 && response.type === "basic") cache.put(key, response.clone());
      return response;
    });
    var slow = new Promise(function (resolve) { setTimeout(resolve, PAGE_TIMEOUT_MS); });
    var cached = function () {
      return cache.match(key, { ignoreVary: true, ignoreSearch: true }).then(function (hit) {
        return hit || cache.match("/intake/report", { ignoreVary: true, ignoreSearch: true });
      });
    };
    // the network's answer when it comes in time; else (or when it fails) the copy on the phone, if there is one
    return Promise.race([fromNetwork.catch(function () { return null; }), slow.then(function () { return null; })])
      .then(function (response) {
        if (response) return response;
        return cached().then(function (hit) { return hit || fromNetwork; });
      });
  });
}

function staleWhileRevalidate(request) {
  return caches.open(CACHE).then(function (cache) {
    return cache.match(request, { ignoreVary: true }).then(function (hit) {
      var fresh = fetch(request).then(function (response) {
        if (response.ok && response.type === "basic") cache.put(request, response.clone());
        return response;
      });
      if (hit) {
        fresh.catch(function () {});
        return hit;
      }
      return fresh;
    });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;  // map tiles and the like: the browser's own cache
  var key = request.mode === "navigate" ? pageKey(url) : null;
  if (key) return event.respondWith(networkFirst(request, key));
  if (url.pathname.indexOf("/static/") === 0) return event.respondWith(staleWhileRevalidate(request));
});

// Web Push: a notice about one of the reporter's reports (intake's sender, encrypted for this browser). It shows the
// notice; a tap opens the report's own page.
self.addEventListener("push", function (event) {
  var data = {};
  try { data = event.data ? event.data.json() : {}; } catch (e) { data = { body: event.data ? event.data.text() : "" }; }
  event.waitUntil(self.registration.showNotification(data.title || "PAHT", {
    body: data.body || "", tag: data.tag || undefined, data: { url: data.url || "/intake/me" },
    icon: "/static/intake/icon-192.png"
  }));
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var url = (event.notification.data && event.notification.data.url) || "/intake/me";
  event.waitUntil(self.clients.openWindow(url));
});
