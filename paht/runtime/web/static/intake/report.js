/* PAHT citizen app (/intake/report): verify the phone, write the report, send it — online or not.
 *
 * Everything typed is saved on the phone as it is typed (text in localStorage, photos and videos in
 * IndexedDB). A report sent without a connection goes to the outbox on the phone and is sent when the
 * connection returns (the `online` event, the next start, and every 30 s while something waits), always
 * with the draft's id as its Idempotency-Key, so the server stores it once however often it is sent.
 * The service worker (/intake/sw.js) keeps the app itself on the phone, so it also starts offline.
 */
(function () {
  "use strict";

  var PAHT = window.PAHT;
  var form = document.getElementById("report-form");
  if (!PAHT || !form) return;
  var t = PAHT.t, api = PAHT.api, el = PAHT.el;
  var KEY = { draft: "paht.intake.draft", reporter: "paht.intake.reporter", outbox: "paht.intake.outbox",
              sent: "paht.intake.sent", challenge: "paht.intake.challenge", verified: "paht.intake.verified" };
  var SESSION_DAYS = 30;  // a reporter session lasts 30 days (services/intake/domain/identity.py)
  var RE_UPLOAD_AFTER_MS = 12 * 3600 * 1000;  // the server forgets unattached uploads after a day: older ones are sent again
  var signedIn = PAHT.cfg.signedIn === "1";
  var fields = form.elements;
  var compose = document.getElementById("compose");
  var sendButton = document.getElementById("send-report");
  var sendError = form.querySelector(".send-error");
  var draftNote = form.querySelector(".draft-note");
  var widgets = PAHT.widgets;

  /* ---- storage on the phone ---- */

  function load(key, fallback, where) {
    try {
      var v = JSON.parse((where || localStorage).getItem(key));
      return v === null || v === undefined ? fallback : v;
    } catch (e) { return fallback; }
  }
  function save(key, value, where) {
    try { (where || localStorage).setItem(key, JSON.stringify(value)); } catch (e) { /* storage full or private mode */ }
  }
  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = crypto.getRandomValues(new Uint8Array(16));
    return Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
  }
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function localInput(d) {  // a Date as a datetime-local value (the phone's own time)
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + "T" + pad(d.getHours()) + ":" + pad(d.getMinutes());
  }
  function withOffset(value) {  // "2025-11-28T08:30" typed on the phone -> ISO 8601 with the phone's offset
    if (!value) return null;
    var d = new Date(value);
    if (isNaN(d.getTime())) return null;
    var off = -d.getTimezoneOffset(), sign = off >= 0 ? "+" : "-";
    off = Math.abs(off);
    return localInput(d) + ":00" + sign + pad(Math.floor(off / 60)) + ":" + pad(off % 60);
  }

  var TEXT_FIELDS = ["title", "description", "topic_code", "occurred_at", "lat", "lon", "address_text"];
  var FLAGS = ["private_result", "urgent"];
  var draft = load(KEY.draft, null);
  if (!draft || !draft.id) draft = { id: newId(), fields: {}, media: [], started: Date.now() };
  fields.idempotency_key.value = draft.id;

  function radio(name) {
    var checked = form.querySelector('input[name="' + name + '"]:checked');
    return checked ? checked.value : "";
  }
  function setRadio(name, value) {
    form.querySelectorAll('input[name="' + name + '"]').forEach(function (r) { r.checked = r.value === value; });
  }

  function collect() {
    var f = {};
    TEXT_FIELDS.forEach(function (n) { f[n] = fields[n].value; });
    FLAGS.forEach(function (n) { f[n] = fields[n].checked; });
    f.urgent_service = radio("urgent_service");
    return f;
  }

  function fill(f) {
    TEXT_FIELDS.forEach(function (n) { if (f[n] !== undefined && !fields[n].value) fields[n].value = f[n]; });
    FLAGS.forEach(function (n) { if (f[n]) fields[n].checked = true; });
    if (f.urgent_service) setRadio("urgent_service", f.urgent_service);
  }

  var noteTimer = null, typed = false;
  function saveDraft() {
    draft.fields = collect();
    draft.media = uploads.meta();
    save(KEY.draft, draft);
    save(KEY.reporter, { name: fields.name.value, email: fields.email.value, kind: radio("kind") });
    if (!typed) return;  // say "saved" only about what the reporter did
    draftNote.hidden = false;
    clearTimeout(noteTimer);
    noteTimer = setTimeout(function () { draftNote.hidden = true; }, 2500);
  }
  var saveSoon = PAHT.debounce(saveDraft, 300);

  var uploads = new PAHT.Uploads(form.querySelector("[data-uploads]"), {
    keep: function (it) { return "draft:" + draft.id + ":" + it.local; },
    changed: saveSoon,
  });

  /* ---- the draft back on the page ---- */

  var me = load(KEY.reporter, {});
  if (me.name && !fields.name.value) fields.name.value = me.name;
  if (me.email && !fields.email.value) fields.email.value = me.email;
  if (me.kind) setRadio("kind", me.kind);
  fill(draft.fields || {});
  // the time of the event: the draft's, else now (a page from the phone's cache may carry the time it was drawn)
  fields.occurred_at.value = (draft.fields && draft.fields.occurred_at) || localInput(new Date());
  fields.occurred_at.max = localInput(new Date(Date.now() + 10 * 60000));
  uploads.load(draft.media);
  if (widgets.urgent) widgets.urgent.sync();
  if (widgets.map) widgets.map.refresh();
  form.addEventListener("input", function () { typed = true; saveSoon(); });
  form.addEventListener("change", function () { typed = true; saveSoon(); });

  /* ---- which view shows ---- */

  var views = { compose: compose, done: document.getElementById("done"), queued: document.getElementById("queued") };
  var showing = "compose", shownItem = null;
  function show(name, itemId) {
    Object.keys(views).forEach(function (k) { views[k].hidden = k !== name; });
    showing = name;
    shownItem = itemId || null;
    if (name === "compose") {
      if (widgets.map) widgets.map.refresh();
    } else {
      views[name].focus();
      window.scrollTo(0, 0);
    }
  }
  document.querySelectorAll("[data-new-report]").forEach(function (b) {
    b.addEventListener("click", function () { show("compose"); fields.title.focus(); });
  });

  function showDone(report) {
    document.getElementById("tracking-code").textContent = report.tracking_code;
    views.done.querySelector(".done-text").textContent = t("form.success", { tracking_code: report.tracking_code });
    document.getElementById("track-link").href = "/track?code=" + encodeURIComponent(report.tracking_code);
    show("done");
  }

  function sayError(text) {
    sendError.textContent = "";
    if (text) sendError.appendChild(el("div", { class: "flash flash-error", text: text }));
    sendError.hidden = !text;
    if (text) sendError.scrollIntoView({ block: "center" });
  }

  /* ---- sending: the same steps for the draft and for the outbox ---- */

  function uploadAll(item, onSaved) {
    var jobs = item.media.filter(function (m) {
      return !m.uploadId || !m.uploadedAt || Date.now() - m.uploadedAt > RE_UPLOAD_AFTER_MS;
    });
    return jobs.reduce(function (chain, m) {
      return chain.then(function () {
        if (!m.key) throw { refused: true, message: t("js.file_lost") + " (" + m.name + ")" };
        return PAHT.files.get(m.key).then(function (blob) {
          if (!blob) {
            if (m.uploadId) return;  // uploaded before; the copy on the phone is gone
            throw { refused: true, message: t("js.file_lost") + " (" + m.name + ")" };
          }
          return PAHT.upload(blob, m.name).promise.then(function (res) {
            if (!res.ok) throw { refused: true, status: res.status, message: m.name + ": " + PAHT.errorText(res) };
            m.uploadId = res.body.id;
            m.uploadedAt = Date.now();
            if (onSaved) onSaved();
          });
        });
      });
    }, Promise.resolve());
  }

  /** Send one report: {state: "sent", report} | {state: "queued"} | {state: "signin"} | {state: "refused", message}. */
  function deliver(item, onSaved, retried) {
    return uploadAll(item, onSaved).then(function () {
      var body = Object.assign({}, item.body, { media: item.media.map(function (m) { return m.uploadId; }) });
      return api("POST", "/api/intake/v1/reports", body, { "Idempotency-Key": item.id });
    }).then(function (res) {
      if (res.ok) return { state: "sent", report: res.body };
      if (res.status === 401) return { state: "signin", message: PAHT.errorText(res) };
      if (res.status === 403 && !retried) {  // a page started from the phone's cache may carry an old CSRF token
        return PAHT.refreshSession().then(function () { return deliver(item, onSaved, true); });
      }
      return { state: "refused", status: res.status, message: PAHT.errorText(res) };
    }).catch(function (why) {
      if (why && why.offline) return { state: "queued" };
      if (why && why.refused) return { state: "refused", status: why.status, message: why.message };
      return { state: "refused", message: t("js.error_status", { status: "?" }) };  // the phone's own storage failed
    });
  }

  function remember(report, title) {
    var sent = load(KEY.sent, []);
    sent.unshift({ id: report.id, code: report.tracking_code, title: title, at: Date.now() });
    save(KEY.sent, sent.slice(0, 20));
  }

  function body() {
    var lat = PAHT.number(fields.lat.value), lon = PAHT.number(fields.lon.value);
    var service = radio("urgent_service");
    return {
      reporter: { name: fields.name.value.trim(), email: fields.email.value.trim(), kind: radio("kind") || "person" },
      title: fields.title.value.trim(),
      description: fields.description.value.trim(),
      topic_code: fields.topic_code.value,
      location: lat !== null && lon !== null ? { lat: lat, lon: lon } : null,
      address_text: fields.address_text.value.trim(),
      occurred_at: withOffset(fields.occurred_at.value),
      private_result: fields.private_result.checked,
      urgent: fields.urgent.checked || !!service,
      urgent_service: fields.urgent.checked && service ? service : null,
      acknowledged: fields.acknowledged.checked,
    };
  }

  function freshDraft(keepFiles) {
    uploads.reset(keepFiles);
    draft = { id: newId(), fields: {}, media: [], started: Date.now() };
    fields.idempotency_key.value = draft.id;
    TEXT_FIELDS.forEach(function (n) { fields[n].value = ""; });
    FLAGS.concat(["acknowledged"]).forEach(function (n) { fields[n].checked = false; });
    setRadio("urgent_service", "");
    fields.occurred_at.value = localInput(new Date());
    if (widgets.map) widgets.map.clear();
    if (widgets.urgent) widgets.urgent.sync();
    saveDraft();
  }

  var sending = false;
  function busy(on) {
    sending = on;
    sendButton.disabled = on;
    sendButton.textContent = on ? t("js.sending") : t("form.submit");
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (sending) return;
    sayError("");
    saveDraft();
    if (!signedIn && navigator.onLine) {
      needVerify(t("js.verify_first"));
      return;
    }
    busy(true);
    uploads.settle().then(function () {
      if (uploads.failed().length) throw { refused: true, message: t("js.remove_failed") };
      var item = { id: draft.id, body: body(), media: uploads.meta(), created: Date.now() };
      if (!signedIn) return { state: "queued", item: item };
      return deliver(item).then(function (r) { r.item = item; return r; });
    }).then(function (r) {
      busy(false);
      if (r.state === "sent") {
        remember(r.report, r.item.body.title);
        freshDraft(false);
        showDone(r.report);
      } else if (r.state === "queued") {
        var box = load(KEY.outbox, []);
        box = box.filter(function (x) { return x.id !== r.item.id; });
        box.push(r.item);
        save(KEY.outbox, box);
        freshDraft(true);  // the files stay on the phone for the outbox
        renderOutbox();
        show("queued", r.item.id);
        watch();
      } else if (r.state === "signin") {
        needVerify(r.message);
      } else {
        sayError(r.message);
      }
    }, function (why) {
      busy(false);
      sayError((why && why.message) || t("js.error_status", { status: "?" }));
    });
  });

  /* ---- the outbox ---- */

  var outbox = document.getElementById("outbox");
  var outboxList = outbox.querySelector(".outbox-list");
  var outboxNote = outbox.querySelector(".outbox-note");
  var sentNotes = [];
  var flushing = false, timer = null;

  function renderOutbox(note) {
    var box = load(KEY.outbox, []);
    outboxList.textContent = "";
    box.forEach(function (item) {
      var remove = el("button", { type: "button", class: "secondary small", text: t("js.delete") });
      remove.addEventListener("click", function () {
        if (!window.confirm(t("js.delete_confirm"))) return;
        drop(item.id, true);
      });
      var parts = [el("strong", { text: item.body.title || t("js.untitled") }),
                   el("span", { class: "muted", text: " · " + new Date(item.created).toLocaleString(PAHT.lang === "en" ? "en-GB" : "vi-VN") }),
                   el("p", { class: item.error ? "error" : "muted", text: item.error || t("js.waiting_network") })];
      if (item.error) {
        var edit = el("button", { type: "button", class: "secondary small", text: t("js.edit") });
        edit.addEventListener("click", function () { reopen(item); });
        parts.push(el("div", { class: "actions" }, [edit, remove]));
      } else {
        parts.push(el("div", { class: "actions" }, [remove]));
      }
      outboxList.appendChild(el("li", { class: "outbox-item" }, parts));
    });
    sentNotes.forEach(function (n) { outboxList.appendChild(el("li", { class: "outbox-sent flash flash-success", text: n })); });
    outboxNote.textContent = note || t("intake.outbox_note");
    outboxNote.hidden = !box.length;
    outbox.querySelector("#outbox-heading").hidden = !box.length;
    outbox.querySelector("#send-now").hidden = !box.length;
    outbox.hidden = !box.length && !sentNotes.length;
  }

  function drop(id, deleteFiles) {
    var box = load(KEY.outbox, []);
    var item = box.filter(function (x) { return x.id === id; })[0];
    save(KEY.outbox, box.filter(function (x) { return x.id !== id; }));
    if (item && deleteFiles) item.media.forEach(function (m) { if (m.key) PAHT.files.del(m.key); });
    renderOutbox();
  }

  /** A report the server refused goes back into the form to be corrected (the current draft, if any, is kept in the outbox's place). */
  function reopen(item) {
    var current = collect();
    if ((current.title || current.description) && !window.confirm(t("js.replace_draft"))) return;
    uploads.reset(false);
    draft = { id: item.id, fields: {}, media: item.media, started: item.created };
    fields.idempotency_key.value = draft.id;
    TEXT_FIELDS.forEach(function (n) { fields[n].value = ""; });
    var b = item.body;
    fill({ title: b.title, description: b.description, topic_code: b.topic_code, address_text: b.address_text,
           lat: b.location ? String(b.location.lat) : "", lon: b.location ? String(b.location.lon) : "",
           occurred_at: b.occurred_at ? localInput(new Date(b.occurred_at)) : "", private_result: b.private_result,
           urgent: b.urgent, urgent_service: b.urgent_service || "" });
    uploads.load(item.media);
    drop(item.id, false);
    if (widgets.urgent) widgets.urgent.sync();
    show("compose");
    if (widgets.map) widgets.map.refresh();
    saveDraft();
    sayError(item.error);
  }

  function flush() {
    if (flushing || !navigator.onLine) return Promise.resolve();
    var box = load(KEY.outbox, []);
    if (!box.length) { renderOutbox(); return Promise.resolve(); }
    if (!signedIn) { renderOutbox(t("js.outbox_verify")); return Promise.resolve(); }
    flushing = true;
    return box.reduce(function (chain, item) {
      return chain.then(function (stop) {
        if (stop || item.error) return stop;
        var persist = function () {
          var now = load(KEY.outbox, []);
          save(KEY.outbox, now.map(function (x) { return x.id === item.id ? item : x; }));
        };
        return deliver(item, persist).then(function (r) {
          if (r.state === "sent") {
            remember(r.report, item.body.title);
            sentNotes.push(t("js.outbox_sent", { title: item.body.title, code: r.report.tracking_code }));
            drop(item.id, true);
            if (showing === "queued" && shownItem === item.id) showDone(r.report);
            return false;
          }
          if (r.state === "refused" && !item.reuploaded && item.media.some(function (m) { return m.uploadId && m.key; })) {
            // files uploaded under an earlier session are not this session's to attach: upload them again, once
            item.reuploaded = true;
            item.media.forEach(function (m) { if (m.key) { m.uploadId = null; m.uploadedAt = null; } });
            persist();
            return deliver(item, persist).then(function (again) {
              if (again.state === "sent") {
                remember(again.report, item.body.title);
                sentNotes.push(t("js.outbox_sent", { title: item.body.title, code: again.report.tracking_code }));
                drop(item.id, true);
                if (showing === "queued" && shownItem === item.id) showDone(again.report);
                return false;
              }
              if (again.state === "refused") { item.error = again.message; persist(); }
              return again.state === "queued" || again.state === "signin";
            });
          }
          if (r.state === "refused") { item.error = r.message; persist(); return false; }
          if (r.state === "signin") { needVerify(r.message); return true; }
          return true;  // still no connection: try again later
        });
      });
    }, Promise.resolve(false)).then(function () {
      flushing = false;
      renderOutbox();
      watch();
    }, function () { flushing = false; renderOutbox(); });
  }

  function watch() {
    var waiting = load(KEY.outbox, []).some(function (x) { return !x.error; });
    if (waiting && !timer) timer = setInterval(flush, 30000);
    if (!waiting && timer) { clearInterval(timer); timer = null; }
  }

  document.getElementById("send-now").addEventListener("click", function () { flush(); });
  var banner = document.getElementById("offline-banner");
  /** Back online (or starting): ask the server whether the phone is verified now (the page may come from the phone's
   * cache, drawn before or after), then send what waits. */
  function network() {
    banner.hidden = navigator.onLine;
    document.getElementById("send-now").disabled = !navigator.onLine;
    if (!navigator.onLine) return;
    PAHT.refreshSession().then(function (s) {
      if (s && s.signed_in && !signedIn) signedInNow(s.phone);  // sends the outbox
      else if (s && !s.signed_in && signedIn) needVerify("");
      else flush();
    }, function () { flush(); });
  }
  window.addEventListener("online", network);
  window.addEventListener("offline", network);

  /* ---- the phone check ---- */

  var verify = document.getElementById("verify");
  var verified = document.getElementById("verified");
  var otpForm = document.getElementById("otp-form");
  var codeForm = document.getElementById("code-form");

  function verifyError(text) {
    var box = verify.querySelector(".verify-error");
    box.textContent = "";
    if (text) box.appendChild(el("div", { class: "flash flash-error", text: text }));
    box.hidden = !text;
  }

  /** Show the phone check (the session is missing or ended); the draft stays as it is. */
  function needVerify(message) {
    signedIn = false;
    localStorage.removeItem(KEY.verified);
    verified.hidden = true;
    verify.hidden = false;
    verifyError(message);
    verify.scrollIntoView({ block: "start" });
    var focus = codeForm.hidden ? otpForm.querySelector('input[name="phone"]') : codeForm.querySelector('input[name="code"]');
    if (focus) focus.focus({ preventScroll: true });
  }

  var countdown = null;
  function holdResend(seconds) {
    var resend = document.getElementById("resend-code");
    var until = Date.now() + seconds * 1000;
    clearInterval(countdown);
    function tick() {
      var left = Math.ceil((until - Date.now()) / 1000);
      resend.disabled = left > 0;
      resend.textContent = left > 0 ? t("js.resend_in", { seconds: left }) : t("intake.resend_code");
      if (left <= 0) clearInterval(countdown);
    }
    tick();
    countdown = setInterval(tick, 1000);
  }

  function codeStep(challenge) {
    codeForm.querySelector('input[name="challenge_id"]').value = challenge.id;
    codeForm.querySelector('input[name="phone"]').value = challenge.phone;
    codeForm.querySelector(".code-sent").textContent = t("intake.code_sent", { phone: challenge.masked });
    otpForm.hidden = true;
    codeForm.hidden = false;
    holdResend(Math.max(0, Math.ceil((challenge.resendAt - Date.now()) / 1000)));
  }

  function masked(phone) {
    var digits = String(phone).replace(/\D/g, "");
    return digits.length > 5 ? digits.slice(0, 2) + digits.slice(2, -3).replace(/\d/g, "x") + digits.slice(-3) : digits;
  }

  function signedInNow(phone) {
    signedIn = true;
    save(KEY.verified, { phone: phone, at: Date.now() });  // for a start without a connection (the page from the phone's cache)
    sessionStorage.removeItem(KEY.challenge);
    verified.querySelector(".verified-text").textContent = t("intake.verified_as", { phone: phone });
    verified.hidden = false;
    verify.hidden = true;
    verifyError("");
    codeForm.hidden = true;
    otpForm.hidden = false;
    codeForm.querySelector('input[name="code"]').value = "";
    flush();
  }

  otpForm.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var phone = otpForm.querySelector('input[name="phone"]').value.trim();
    verifyError("");
    var button = document.getElementById("send-code");
    button.disabled = true;
    api("POST", "/api/intake/v1/otp", { phone: phone }).then(function (res) {
      button.disabled = false;
      if (res.ok && res.body && res.body.challenge_id) {
        var challenge = { id: res.body.challenge_id, phone: phone, masked: masked(phone),
                          resendAt: Date.now() + 1000 * (res.body.resend_after_s || 60), expires: res.body.expires_at };
        save(KEY.challenge, challenge, sessionStorage);
        codeStep(challenge);
        codeForm.querySelector('input[name="code"]').focus();
      } else {
        verifyError(PAHT.errorText(res));
        var wait = res.headers.get("Retry-After");
        if (res.status === 429 && wait && !codeForm.hidden) holdResend(parseInt(wait, 10) || 60);
      }
    }, function () {
      button.disabled = false;
      verifyError(t("js.offline_verify"));
    });
  });

  codeForm.addEventListener("submit", function (ev) {
    ev.preventDefault();
    verifyError("");
    var button = document.getElementById("check-code");
    button.disabled = true;
    var body = { challenge_id: codeForm.querySelector('input[name="challenge_id"]').value,
                 phone: codeForm.querySelector('input[name="phone"]').value,
                 code: codeForm.querySelector('input[name="code"]').value.replace(/\s/g, ""), session: "cookie" };
    api("POST", "/api/intake/v1/otp/verify", body).then(function (res) {
      button.disabled = false;
      if (res.ok) signedInNow((res.body && res.body.phone) || masked(body.phone));
      else verifyError(PAHT.errorText(res));
    }, function () {
      button.disabled = false;
      verifyError(t("js.offline_verify"));
    });
  });

  document.getElementById("other-phone").addEventListener("click", function () {
    sessionStorage.removeItem(KEY.challenge);
    codeForm.hidden = true;
    otpForm.hidden = false;
    otpForm.querySelector('input[name="phone"]').focus();
  });

  document.getElementById("sign-out").addEventListener("click", function () { localStorage.removeItem(KEY.verified); });
  var remembered = load(KEY.verified, null);
  if (signedIn) {
    save(KEY.verified, { phone: (verified.querySelector(".verified-text").textContent.match(/[0-9x]{6,}/) || [""])[0], at: Date.now() });
  } else if (!navigator.onLine && remembered && Date.now() - remembered.at < SESSION_DAYS * 86400000) {
    // started offline from the phone's copy of the page: the phone was verified here before; the server says so again once online
    signedInNow(remembered.phone);
  }
  var pending = load(KEY.challenge, null, sessionStorage);
  if (!signedIn && pending && pending.expires && new Date(pending.expires).getTime() > Date.now() && codeForm.hidden) codeStep(pending);
  else if (!codeForm.hidden) holdResend(parseInt(document.getElementById("resend-code").dataset.resendAfter, 10) || 60);
  form.hidden = false;  // with JavaScript the report can be written before (or without) a connection; it is sent once verified
  if (widgets.map) widgets.map.refresh();  // the map was drawn inside the hidden form: it takes its real size now (else one tile, grey around)

  /* ---- start ---- */

  renderOutbox();
  network();
  watch();
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/intake/sw.js", { scope: "/intake/" }).catch(function () { /* the app still works, only not offline */ });
  }
})();
