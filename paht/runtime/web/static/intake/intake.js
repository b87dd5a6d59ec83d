/* PAHT intake: the widgets the intake pages share, on top of forms that work without JavaScript.
 *
 * Small on purpose (a citizen on a cheap phone and a slow connection): no framework, no build step.
 * Each widget finds its element by a data attribute and enhances it:
 *   [data-topic-picker]  suggestions from GET /api/intake/v1/topics?text= for what was typed (debounced)
 *   [data-map-picker]    a Leaflet map to drop a pin, "use my location", and the server's check of the place
 *   [data-uploads]       photos and videos uploaded at once (progress, remove, preview), ids into the form
 *   [data-urgent]        the 113/114/115 choice shown only for an urgent report
 *   [data-redact]        the IOC's blur rectangles on a report's photo, drawn with a mouse or a finger (pointer events)
 * Settings come from #intake-config (data-*), texts from the JSON block #intake-text: no inline script,
 * so the page's Content-Security-Policy (script-src 'self') holds.
 */
(function () {
  "use strict";

  var PAHT = (window.PAHT = window.PAHT || {});
  var cfgEl = document.getElementById("intake-config");
  var cfg = (PAHT.cfg = cfgEl ? cfgEl.dataset : {});
  var texts = {};
  try {
    texts = JSON.parse(document.getElementById("intake-text").textContent);
  } catch (e) { /* no texts: keys are shown, which a test would catch */ }
  var lang = (PAHT.lang = document.documentElement.lang === "en" ? "en" : "vi");

  /** A text of the page's language, with {name} placeholders filled. */
  function t(key, fmt) {
    var s = texts[key] || key;
    if (fmt) {
      Object.keys(fmt).forEach(function (k) { s = s.split("{" + k + "}").join(String(fmt[k])); });
    }
    return s;
  }
  PAHT.t = t;

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "class") node.className = attrs[k];
      else if (k in node && typeof attrs[k] !== "string") node[k] = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }
  PAHT.el = el;

  function debounce(fn, ms) {
    var timer = null;
    return function () {
      var args = arguments, self = this;
      clearTimeout(timer);
      timer = setTimeout(function () { fn.apply(self, args); }, ms);
    };
  }
  PAHT.debounce = debounce;

  /* ---- the CSRF token and the session ---- */

  /** The CSRF cookie is HttpOnly: every page carries the token in its forms' hidden field. */
  function csrf() {
    var field = document.querySelector('input[name="csrf_token"]');
    return field ? field.value : "";
  }
  PAHT.csrf = csrf;

  /** Ask the server who we are and for a current CSRF token (a page started from the phone's cache may hold an old one). */
  PAHT.refreshSession = function () {
    return fetch("/intake/session", { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) {
        if (s && s.csrf_token) {
          document.querySelectorAll('input[name="csrf_token"]').forEach(function (f) { f.value = s.csrf_token; });
        }
        return s;
      });
  };

  /* ---- JSON over HTTP ---- */

  /** Resolve with {status, ok, body, headers}; reject with {offline: true} when the request never reached the server. */
  function api(method, url, body, headers) {
    var h = { Accept: "application/json" };
    if (method !== "GET") h["X-CSRF-Token"] = csrf();
    if (body !== undefined) h["Content-Type"] = "application/json";
    Object.keys(headers || {}).forEach(function (k) { h[k] = headers[k]; });
    return fetch(url, {
      method: method, headers: h, credentials: "same-origin", cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(function (r) {
      return r.text().then(function (text) {
        var parsed = null;
        try { parsed = text ? JSON.parse(text) : null; } catch (e) { parsed = null; }
        return { status: r.status, ok: r.ok, body: parsed, headers: r.headers };
      });
    }, function () {
      throw { offline: true };
    });
  }
  PAHT.api = api;

  /** The server's bilingual error in the page's language: the specific reason when there is one. */
  function errorText(res) {
    var e = res && res.body && res.body.error;
    if (!e) return t("js.error_status", { status: res ? res.status : "?" });
    var detail = e.detail && (e.detail[lang] || e.detail.vi);
    var message = e.message && (e.message[lang] || e.message.vi);
    return detail || message || t("js.error_status", { status: res.status });
  }
  PAHT.errorText = errorText;

  /* ---- files kept on the phone (IndexedDB): a draft's photos survive a reload and a lost connection ---- */

  var dbPromise = null;
  function db() {
    if (!dbPromise) {
      dbPromise = new Promise(function (resolve, reject) {
        if (!window.indexedDB) return reject(new Error("no IndexedDB"));
        var open = indexedDB.open("paht-intake", 1);
        open.onupgradeneeded = function () { open.result.createObjectStore("files"); };
        open.onsuccess = function () { resolve(open.result); };
        open.onerror = function () { reject(open.error); };
      });
    }
    return dbPromise;
  }
  function store(mode, action) {
    return db().then(function (d) {
      return new Promise(function (resolve, reject) {
        var tx = d.transaction("files", mode);
        var req = action(tx.objectStore("files"));
        tx.oncomplete = function () { resolve(req && req.result); };
        tx.onerror = function () { reject(tx.error); };
      });
    });
  }
  PAHT.files = {
    put: function (key, blob) { return store("readwrite", function (s) { return s.put(blob, key); }); },
    get: function (key) { return store("readonly", function (s) { return s.get(key); }); },
    del: function (key) { return store("readwrite", function (s) { return s.delete(key); }).catch(function () {}); },
  };

  /** Upload one file as the raw body; progress(fraction). Return {promise, abort}. */
  function upload(blob, name, progress) {
    var xhr = new XMLHttpRequest();
    var promise = new Promise(function (resolve, reject) {
      xhr.open("POST", "/api/intake/v1/uploads");
      xhr.setRequestHeader("X-Filename", encodeURIComponent(name || "file"));
      xhr.setRequestHeader("X-CSRF-Token", csrf());
      xhr.setRequestHeader("Accept", "application/json");
      if (blob.type) xhr.setRequestHeader("Content-Type", blob.type);
      xhr.upload.onprogress = function (e) { if (e.lengthComputable && progress) progress(e.loaded / e.total); };
      xhr.onload = function () {
        var body = null;
        try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
        resolve({ status: xhr.status, ok: xhr.status >= 200 && xhr.status < 300, body: body });
      };
      xhr.onerror = function () { reject({ offline: true }); };
      xhr.onabort = function () { reject({ aborted: true }); };
      xhr.send(blob);
    });
    return { promise: promise, abort: function () { xhr.abort(); } };
  }
  PAHT.upload = upload;

  /* ---- the topic picker ---- */

  function TopicPicker(root) {
    var select = root.querySelector("select");
    var box = root.querySelector(".suggestions");
    var chips = root.querySelector(".chips");
    var sources = (root.dataset.textFrom || "").split(",").map(function (s) { return document.querySelector(s); }).filter(Boolean);
    var asked = "";

    function fillOptions(items) {  // the page was drawn while the topics could not be read: fill them now
      if (select.querySelectorAll("option[value]:not([value=''])").length || !items.length) return;
      var groups = {};
      items.forEach(function (it) {
        if (!groups[it.group_code]) {
          groups[it.group_code] = el("optgroup", { label: it.group_name });
          select.appendChild(groups[it.group_code]);
        }
        groups[it.group_code].appendChild(el("option", { value: it.code, text: it.name }));
      });
    }

    function show(codes) {
      chips.textContent = "";
      codes.forEach(function (code) {
        var option = Array.prototype.filter.call(select.options, function (o) { return o.value === code; })[0];
        if (!option) return;
        var chip = el("button", { type: "button", class: "chip", text: option.textContent, "aria-pressed": String(select.value === code) });
        chip.addEventListener("click", function () {
          select.value = code;
          select.dispatchEvent(new Event("change", { bubbles: true }));
          chips.querySelectorAll(".chip").forEach(function (c) { c.setAttribute("aria-pressed", String(c === chip)); });
        });
        chips.appendChild(chip);
      });
      box.hidden = !chips.childNodes.length;
    }

    var ask = debounce(function () {
      // one line: a control character (a newline) in a URL is refused before it reaches the API
      var text = sources.map(function (s) { return s.value; }).join(" ").replace(/\s+/g, " ").trim();
      if (text.length < 6 || text === asked || !navigator.onLine) return;
      asked = text;
      api("GET", "/api/intake/v1/topics?text=" + encodeURIComponent(text.slice(0, 2000))).then(function (res) {
        if (!res.ok || !res.body) return;
        fillOptions(res.body.items || []);
        show(res.body.suggested || []);
      }, function () {});
    }, 700);
    sources.forEach(function (s) { s.addEventListener("input", ask); });
    select.addEventListener("change", function () {
      chips.querySelectorAll(".chip").forEach(function (c) { c.setAttribute("aria-pressed", "false"); });
    });
    this.refresh = ask;
  }

  /* ---- the map pin ---- */

  function number(text) {
    var v = String(text || "").trim().replace(",", ".");
    return v && isFinite(v) ? parseFloat(v) : null;
  }

  function MapPicker(root) {
    var lat = root.querySelector('input[name="lat"]');
    var lon = root.querySelector('input[name="lon"]');
    var message = root.querySelector("[data-place-message]");
    var mapEl = root.querySelector(".map");
    var locate = root.querySelector("[data-locate]");
    var unpin = root.querySelector("[data-unpin]");
    var map = null, marker = null, self = this;

    function say(text) {
      message.textContent = text || "";
      message.hidden = !text;
    }
    this.say = say;

    var check = debounce(function () {
      var a = number(lat.value), b = number(lon.value);
      if (a === null || b === null) return say("");
      if (!navigator.onLine) return;
      api("GET", "/intake/report/place?lat=" + encodeURIComponent(a) + "&lon=" + encodeURIComponent(b)).then(function (res) {
        say(res.ok ? "" : errorText(res));
      }, function () {});
    }, 400);

    function changed() {
      [lat, lon].forEach(function (f) { f.dispatchEvent(new Event("input", { bubbles: true })); });
      check();
    }

    function place(a, b, zoom) {
      if (!map) return;
      if (!marker) {
        marker = L.marker([a, b], { draggable: true, keyboard: true, title: t("js.pin_title"), alt: t("js.pin_title") }).addTo(map);
        marker.on("dragend", function () {
          var p = marker.getLatLng();
          lat.value = p.lat.toFixed(6);
          lon.value = p.lng.toFixed(6);
          changed();
        });
      } else {
        marker.setLatLng([a, b]);
      }
      if (unpin) unpin.hidden = false;
      map.setView([a, b], zoom || Math.max(map.getZoom(), 15));
    }

    this.set = function (a, b) {
      lat.value = a === null ? "" : Number(a).toFixed(6);
      lon.value = b === null ? "" : Number(b).toFixed(6);
      if (a !== null && b !== null) place(a, b);
      check();
    };
    this.clear = function () {
      lat.value = lon.value = "";
      if (marker && map) { map.removeLayer(marker); marker = null; }
      if (unpin) unpin.hidden = true;
      say("");
    };
    this.refresh = function () {
      if (map) map.invalidateSize();
      var a = number(lat.value), b = number(lon.value);
      if (a !== null && b !== null) place(a, b);
    };

    [lat, lon].forEach(function (f) {
      f.addEventListener("change", function () {
        var a = number(lat.value), b = number(lon.value);
        if (a !== null && b !== null && Math.abs(a) <= 90 && Math.abs(b) <= 180) place(a, b);
        check();
      });
    });

    if (window.L && cfg.tiles && mapEl) {
      var c = (cfg.center || "17.4683,106.6222,12").split(",").map(Number);
      mapEl.hidden = false;
      root.querySelectorAll(".map-actions,[data-map-hint]").forEach(function (n) { n.hidden = false; });
      map = L.map(mapEl, { zoomControl: true, attributionControl: true }).setView([c[0], c[1]], c[2] || 12);
      map.attributionControl.setPrefix('<a href="https://leafletjs.com">Leaflet</a>');
      L.tileLayer(cfg.tiles, { maxZoom: 19, attribution: cfg.attribution || "", referrerPolicy: "strict-origin" }).addTo(map);
      map.on("click", function (e) {
        lat.value = e.latlng.lat.toFixed(6);
        lon.value = e.latlng.lng.toFixed(6);
        place(e.latlng.lat, e.latlng.lng, Math.max(map.getZoom(), 15));
        changed();
      });
      var a0 = number(lat.value), b0 = number(lon.value);
      if (a0 !== null && b0 !== null) place(a0, b0);
    }

    if (locate) {
      if (!navigator.geolocation) locate.hidden = true;
      locate.addEventListener("click", function () {
        say("");
        locate.disabled = true;
        locate.textContent = t("js.locating");
        navigator.geolocation.getCurrentPosition(function (pos) {
          locate.disabled = false;
          locate.textContent = t("form.use_my_location");
          lat.value = pos.coords.latitude.toFixed(6);
          lon.value = pos.coords.longitude.toFixed(6);
          place(pos.coords.latitude, pos.coords.longitude, 17);
          changed();
        }, function (err) {
          locate.disabled = false;
          locate.textContent = t("form.use_my_location");
          say(err && err.code === 1 ? t("js.location_denied") : t("js.location_failed"));
        }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
      });
    }
    if (unpin) unpin.addEventListener("click", function () { self.clear(); changed(); });
  }

  /* ---- a report's place, for the IOC: the pin, the 250 m of the duplicate search, and the reports found there ---- */

  function MapView(root) {
    if (!window.L || !cfg.tiles) return;
    var lat = parseFloat(root.dataset.lat), lon = parseFloat(root.dataset.lon);
    if (!isFinite(lat) || !isFinite(lon)) return;
    root.hidden = false;
    var map = L.map(root, { scrollWheelZoom: false }).setView([lat, lon], 16);
    map.attributionControl.setPrefix('<a href="https://leafletjs.com">Leaflet</a>');
    L.tileLayer(cfg.tiles, { maxZoom: 19, attribution: cfg.attribution || "", referrerPolicy: "strict-origin" }).addTo(map);
    L.circle([lat, lon], { radius: 250, color: "#0b4f8a", weight: 1, fillOpacity: 0.06 }).addTo(map);
    var near = [];
    try { near = JSON.parse(root.dataset.near || "[]"); } catch (e) { near = []; }
    near.forEach(function (p) { L.circleMarker(p, { radius: 7, color: "#8a4b00", weight: 2, fillColor: "#f2b600", fillOpacity: 0.9 }).addTo(map); });
    L.marker([lat, lon], { title: t("js.pin_title"), alt: t("js.pin_title"), keyboard: false }).addTo(map);
  }

  /* ---- photos and videos ---- */

  var PHOTO_TYPES = ["image/jpeg", "image/png", "image/webp"];
  var VIDEO_TYPES = ["video/mp4", "video/webm"];
  var seq = 0;

  function megabytes(n) { return (n / 1e6).toFixed(n < 1e7 ? 1 : 0); }
  function size(n) { return n < 1e6 ? Math.max(1, Math.round(n / 1e3)) + " kB" : megabytes(n) + " MB"; }

  /**
   * The file list of a form. Each file is uploaded as soon as it is chosen (the upload id goes into a
   * hidden input of the form); without a connection it waits, kept on the phone when `keep` gives a
   * key for it, and is uploaded when the report is sent.
   *   opts.keep(item) -> a key to keep the file under in IndexedDB, or null
   *   opts.changed()  -> called whenever the list changes (to save the draft)
   */
  function Uploads(root, opts) {
    opts = opts || {};
    var input = root.querySelector('input[type="file"]');
    var list = root.querySelector(".media-list");
    var idsBox = root.querySelector(".media-ids");
    var name = root.dataset.name || "media";
    var note = el("p", { class: "error upload-error", role: "alert", hidden: true });
    root.insertBefore(note, list);
    var items = [];
    var self = this;
    this.items = items;

    function changed() {
      idsBox.textContent = "";
      items.forEach(function (it) {
        if (it.uploadId) idsBox.appendChild(el("input", { type: "hidden", name: name, value: it.uploadId }));
      });
      if (opts.changed) opts.changed();
    }

    function say(text) { note.textContent = text || ""; note.hidden = !text; }
    this.say = say;

    function render(it) {
      if (!it.node) {
        var thumb;
        if (it.kind === "video") thumb = el("video", { muted: true, preload: "metadata", class: "thumb", "aria-hidden": "true" });
        else thumb = el("img", { alt: "", class: "thumb", width: "72", height: "72" });
        var remove = el("button", { type: "button", class: "secondary small", text: t("js.remove") });
        remove.setAttribute("aria-label", t("js.remove_file", { name: it.name }));
        remove.addEventListener("click", function () { self.remove(it); });
        it.node = el("li", { class: "media-item" }, [
          thumb,
          el("span", { class: "media-body" }, [
            el("span", { class: "media-name", text: it.name }),
            el("span", { class: "media-state" }),
            el("progress", { max: "1", value: "0" }),
          ]),
          remove,
        ]);
        it.thumb = thumb;
        list.appendChild(it.node);
      }
      if (!it.thumb.getAttribute("src")) {
        if (it.blob) it.thumb.src = URL.createObjectURL(it.blob);
        else if (it.uploadId && it.kind !== "video") it.thumb.src = "/intake/media/" + encodeURIComponent(it.uploadId) + "/public";
      }
      var state = it.node.querySelector(".media-state");
      var bar = it.node.querySelector("progress");
      it.node.className = "media-item " + it.state;
      bar.hidden = it.state !== "uploading";
      bar.value = it.progress || 0;
      state.textContent = it.state === "uploading" ? t("js.uploading", { percent: Math.round((it.progress || 0) * 100) })
        : it.state === "done" ? t("js.uploaded", { size: size(it.size) })
        : it.state === "queued" ? t("js.upload_waiting")
        : it.state === "failed" ? it.error || t("js.upload_failed") : "";
    }

    function start(it) {
      if (!it.blob) { it.state = "failed"; it.error = t("js.file_lost"); render(it); return Promise.resolve(false); }
      if (!navigator.onLine) { it.state = "queued"; render(it); return Promise.resolve(false); }
      it.state = "uploading";
      it.progress = 0;
      render(it);
      var job = upload(it.blob, it.name, function (p) { it.progress = p; render(it); });
      it.abort = job.abort;
      return job.promise.then(function (res) {
        it.abort = null;
        if (res.ok && res.body && res.body.id) {
          it.uploadId = res.body.id;
          it.uploadedAt = Date.now();
          it.state = "done";
          it.error = "";
        } else {
          it.state = "failed";
          it.error = errorText(res);
          it.status = res.status;
        }
        render(it);
        changed();
        return it.state === "done";
      }, function (why) {
        it.abort = null;
        if (why && why.aborted) return false;
        it.state = "queued";  // no connection: sent later with the report
        render(it);
        changed();
        throw { offline: true };
      });
    }

    function count(kind) {
      return items.filter(function (it) { return it.kind === kind && it.state !== "failed"; }).length;
    }

    this.add = function (files) {
      say("");
      Array.prototype.forEach.call(files, function (file) {
        var kind = PHOTO_TYPES.indexOf(file.type) >= 0 ? "photo" : VIDEO_TYPES.indexOf(file.type) >= 0 ? "video" : null;
        if (!kind) return say(t("js.file_type", { name: file.name }));
        var max = kind === "photo" ? +cfg.maxPhotos : +cfg.maxVideos;
        if (count(kind) >= max) return say(t(kind === "photo" ? "js.too_many_photos" : "js.too_many_videos", { max: max }));
        var limit = kind === "photo" ? +cfg.maxPhotoBytes : +cfg.maxVideoBytes;
        if (limit && file.size > limit) return say(t("js.file_too_big", { name: file.name, mb: megabytes(limit) }));
        var it = { local: "f" + Date.now().toString(36) + (seq++), name: file.name || kind, type: file.type, size: file.size,
                   kind: kind, blob: file, state: "queued", progress: 0 };
        items.push(it);
        it.key = opts.keep ? opts.keep(it) : null;
        var kept = it.key ? PAHT.files.put(it.key, file).catch(function () { it.key = null; }) : Promise.resolve();
        render(it);
        kept.then(function () { changed(); return start(it); }).catch(function () {});
      });
      input.value = "";
    };

    this.remove = function (it) {
      if (it.abort) it.abort();
      var i = items.indexOf(it);
      if (i >= 0) items.splice(i, 1);
      if (it.node) list.removeChild(it.node);
      if (it.key) PAHT.files.del(it.key);
      say("");
      changed();
    };

    /** What the draft keeps of each file (the file itself is in IndexedDB under `key`). */
    this.meta = function () {
      return items.filter(function (it) { return it.state !== "failed"; }).map(function (it) {
        return { key: it.key, name: it.name, type: it.type, size: it.size, kind: it.kind, uploadId: it.uploadId || null, uploadedAt: it.uploadedAt || null };
      });
    };

    /** Show the files of a saved draft again. */
    this.load = function (metas) {
      (metas || []).forEach(function (m) {
        var it = { name: m.name, type: m.type, size: m.size, kind: m.kind, key: m.key, uploadId: m.uploadId, uploadedAt: m.uploadedAt,
                   state: m.uploadId ? "done" : "queued" };
        items.push(it);
        render(it);
        if (m.key) {
          PAHT.files.get(m.key).then(function (blob) {
            if (blob) { it.blob = blob; render(it); if (!it.uploadId) start(it).catch(function () {}); }
            else if (!it.uploadId) { it.state = "failed"; it.error = t("js.file_lost"); render(it); }
          }, function () {});
        }
      });
      changed();
    };

    /** Forget every file (after sending): their copies on the phone are deleted unless `keepFiles`. */
    this.reset = function (keepFiles) {
      items.slice().forEach(function (it) {
        if (it.abort) it.abort();
        if (it.node) list.removeChild(it.node);
        if (it.key && !keepFiles) PAHT.files.del(it.key);
      });
      items.length = 0;
      say("");
      changed();
    };

    /** Wait for uploads under way; true when every file is uploaded, false when some wait for a connection. */
    this.settle = function () {
      var busy = items.filter(function (it) { return it.state === "uploading"; });
      if (!busy.length) return Promise.resolve(items.every(function (it) { return it.state === "done"; }));
      return new Promise(function (resolve) { setTimeout(resolve, 200); }).then(self.settle);
    };
    this.failed = function () { return items.filter(function (it) { return it.state === "failed"; }); };
    this.ids = function () { return items.filter(function (it) { return it.uploadId; }).map(function (it) { return it.uploadId; }); };

    input.disabled = false;
    root.classList.add("enhanced");  // the label becomes the button; the browser's own control (in its own language) is hidden
    input.addEventListener("change", function () { self.add(input.files); });
  }

  /* ---- urgent: which emergency service ---- */

  function Urgent(root) {
    var box = root.querySelector('input[name="urgent"]');
    var services = root.querySelector("[data-urgent-services]");
    function sync() { services.hidden = !box.checked; }
    box.addEventListener("change", sync);
    this.sync = sync;
    sync();
  }

  /* ---- the IOC's blur rectangles on a report's photo (the step 1 console): drawn with a mouse, a pen or a finger ---- */

  /** Rectangles are fractions of the picture as shown (the upright public copy), which is what the server blurs.
   *  They go to the server in the form's `blur` field (JSON) when the operator saves; until then nothing changes. */
  function Redact(area) {
    var item = area.closest(".redact-item");
    var form = item ? item.querySelector("[data-redact-form]") : null;
    var field = form ? form.querySelector("[data-blur-field]") : null;
    var state = form ? form.querySelector("[data-blur-state]") : null;
    var img = area.querySelector("img");
    var readonly = area.hasAttribute("data-readonly") || !field;
    var max = parseInt(area.dataset.max || "20", 10);
    var MIN = 0.01;  // a tap, not a drag: no rectangle
    var boxes = [];
    try { boxes = JSON.parse(area.dataset.blur || "[]") || []; } catch (e) { boxes = []; }
    var drawing = null;

    function clamp(v) { return Math.max(0, Math.min(1, v)); }
    function round(v) { return Math.round(v * 1e6) / 1e6; }
    function at(e) {
      var r = img.getBoundingClientRect();
      return { x: clamp((e.clientX - r.left) / r.width), y: clamp((e.clientY - r.top) / r.height) };
    }
    function place(node, b) {
      node.style.left = b.x * 100 + "%";
      node.style.top = b.y * 100 + "%";
      node.style.width = b.w * 100 + "%";
      node.style.height = b.h * 100 + "%";
    }
    function value() {
      return JSON.stringify(boxes.map(function (b) {
        var x = round(b.x), y = round(b.y);
        return { x: x, y: y, w: Math.min(round(b.w), round(1 - x)), h: Math.min(round(b.h), round(1 - y)) };
      }));
    }
    var saved = field ? value() : "";

    function say(extra) {
      if (!state) return;
      var text = boxes.length ? t("js.blur_count", { n: boxes.length }) : t("js.blur_none");
      if (field && field.value !== saved) text += " " + t("js.blur_unsaved");
      state.textContent = extra ? extra : text;
    }
    function render() {
      Array.prototype.slice.call(area.querySelectorAll(".blur-box")).forEach(function (n) { area.removeChild(n); });
      boxes.forEach(function (b, i) {
        var node = el("div", { class: "blur-box" });
        place(node, b);
        if (!readonly) {
          var label = t("js.blur_remove", { n: i + 1 });
          var remove = el("button", { type: "button", class: "blur-remove", text: "×", "aria-label": label, title: label });
          remove.addEventListener("pointerdown", function (e) { e.stopPropagation(); });
          remove.addEventListener("click", function (e) {
            e.preventDefault();
            boxes.splice(i, 1);
            changed();
          });
          node.appendChild(remove);
        }
        area.appendChild(node);
      });
    }
    function changed() {
      render();
      if (field) field.value = value();
      say();
    }
    function rectTo(e) {
      var p = at(e), s = drawing.start;
      return { x: Math.min(s.x, p.x), y: Math.min(s.y, p.y), w: Math.abs(p.x - s.x), h: Math.abs(p.y - s.y) };
    }
    function move(e) {
      if (!drawing) return;
      place(drawing.node, rectTo(e));
    }
    function finish(e) {
      if (!drawing) return;
      var r = rectTo(e);
      area.removeChild(drawing.node);
      drawing = null;
      if (r.w >= MIN && r.h >= MIN) boxes.push(r);
      changed();
    }
    function cancel() {
      if (drawing) { area.removeChild(drawing.node); drawing = null; }
    }

    if (!readonly) {
      area.classList.add("drawable");
      area.addEventListener("pointerdown", function (e) {
        if (e.pointerType === "mouse" && e.button !== 0) return;
        if (boxes.length >= max) { say(t("js.blur_max", { n: max })); return; }
        e.preventDefault();
        drawing = { start: at(e), node: el("div", { class: "blur-box drawing" }) };
        area.appendChild(drawing.node);
        if (area.setPointerCapture) area.setPointerCapture(e.pointerId);
        move(e);
      });
      area.addEventListener("pointermove", move);
      area.addEventListener("pointerup", finish);
      area.addEventListener("pointercancel", cancel);
      area.addEventListener("lostpointercapture", cancel);
    }
    render();
    this.boxes = function () { return boxes.slice(); };
  }

  /* ---- start ---- */

  PAHT.Uploads = Uploads;
  PAHT.number = number;
  var widgets = (PAHT.widgets = {});
  var topic = document.querySelector("[data-topic-picker]");
  if (topic) widgets.topics = new TopicPicker(topic);
  var mapRoot = document.querySelector("[data-map-picker]");
  if (mapRoot) widgets.map = new MapPicker(mapRoot);
  var view = document.querySelector("[data-map-view]");
  if (view) widgets.view = new MapView(view);
  var urgent = document.querySelector("[data-urgent]");
  if (urgent) widgets.urgent = new Urgent(urgent);
  widgets.redact = Array.prototype.map.call(document.querySelectorAll("[data-redact]"), function (area) { return new Redact(area); });
  // a page without its own script (the edit form, the call centre) gets plain uploads straight away
  var up = document.querySelector("[data-uploads]");
  if (up && !up.hasAttribute("data-manual")) widgets.uploads = new Uploads(up, {});
})();
