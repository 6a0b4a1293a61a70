/* Service worker of the inspection checklist (served at /inspections/sw.js, scope /inspections/).
 *
 * The checklist page is fetched from the network first and kept in this phone's cache, so that a reload
 * without network still shows it (the answers themselves live in localStorage and IndexedDB); the scripts and
 * stylesheets it loads come from the cache and are refreshed in the background. Nothing else is cached, and
 * nothing is ever sent from here: the page sends the changes itself.
 */
"use strict";

var CACHE = "inspection-checklist-v1";
var CHECKLIST = /^\/inspections\/\d+\/checklist\/$/;

self.addEventListener("install", function () { self.skipWaiting(); });
self.addEventListener("activate", function (event) { event.waitUntil(self.clients.claim()); });

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && CHECKLIST.test(url.pathname)) {
    event.respondWith(fetch(request).then(function (response) {
      if (response.ok && !response.redirected) {
        var copy = response.clone();
        caches.open(CACHE).then(function (cache) { cache.put(url.pathname, copy); });
      }
      return response;
    }).catch(function () {
      return caches.open(CACHE).then(function (cache) { return cache.match(url.pathname); }).then(function (hit) {
        return hit || Response.error();
      });
    }));
    return;
  }
  if (url.pathname.indexOf("/static/") === 0) {
    event.respondWith(caches.open(CACHE).then(function (cache) {
      return cache.match(request).then(function (hit) {
        var network = fetch(request).then(function (response) {
          if (response.ok) cache.put(request, response.clone());
          return response;
        });
        if (hit) { network.catch(function () {}); return hit; }
        return network;
      });
    }));
  }
});
