/* The portal's map: reports of the box in view from /api/publication/v1/reports.geojson (with the page's filters).
   Up to the server's cap each report is a marker, grouped on the client by Leaflet.markercluster; above it the
   server answers grid clusters (count and centre), drawn with the same look, and a click zooms in. */
(function () {
  "use strict";
  var el = document.getElementById("portal-map");
  if (!el || !window.L) return;
  var status = document.getElementById("map-status");
  var d = el.dataset;
  var vi = d.lang === "vi";
  var centre = (d.center || "17.4689,106.6223").split(",").map(Number);
  var map = L.map(el, { zoomControl: true, maxZoom: 19 }).setView(centre, 13);  // maxZoom: markercluster needs it even without tiles
  if (d.tiles) {
    L.tileLayer(d.tiles, { maxZoom: 19, attribution: d.attribution || "", referrerPolicy: "strict-origin" }).addTo(map);
  }
  var markers = L.markerClusterGroup({ showCoverageOnHover: false, maxClusterRadius: 50 });
  var cells = L.layerGroup();
  markers.addTo(map);
  cells.addTo(map);
  var pending = null;

  function clamp(v, lo, hi) { return Math.max(lo, Math.min(hi, v)); }

  function bbox() {
    var b = map.getBounds();
    var w = clamp(b.getWest(), -180, 180), e = clamp(b.getEast(), -180, 180);
    var s = clamp(b.getSouth(), -90, 90), n = clamp(b.getNorth(), -90, 90);
    if (w >= e) { w = -180; e = 180; }
    if (s >= n) { s = -90; n = 90; }
    return [w, s, e, n].map(function (v) { return v.toFixed(5); }).join(",");
  }

  function popup(p) {
    var box = document.createElement("div");
    var a = document.createElement("a");
    a.href = p.url;
    a.textContent = p.title;
    box.appendChild(a);
    var meta = document.createElement("div");
    var when = p.received_at ? new Date(p.received_at).toLocaleDateString(vi ? "vi-VN" : "en-GB") : "";
    var topic = p.topic && p.topic.name ? (vi ? p.topic.name.vi : p.topic.name.en) : "";
    meta.textContent = [vi ? p.status_label.vi : p.status_label.en, topic, when].filter(Boolean).join(" · ");
    box.appendChild(meta);
    return box;
  }

  function cellIcon(count) {
    var size = count < 10 ? "small" : count < 100 ? "medium" : "large";
    return L.divIcon({ html: "<div><span>" + Number(count) + "</span></div>", className: "marker-cluster marker-cluster-" + size + " server-cluster",
                       iconSize: L.point(40, 40) });
  }

  function draw(data) {
    markers.clearLayers();
    cells.clearLayers();
    var shown = 0;
    var batch = [];
    (data.features || []).forEach(function (f) {
      var c = f.geometry.coordinates, p = f.properties;
      var at = L.latLng(c[1], c[0]);
      if (p.cluster) {
        shown += p.count;
        var m = L.marker(at, { icon: cellIcon(p.count), title: String(p.count), keyboard: true });
        m.on("click", function () { map.setView(at, Math.min(map.getZoom() + 2, 19)); });
        cells.addLayer(m);
      } else {
        shown += 1;
        batch.push(L.marker(at, { title: p.title }).bindPopup(popup(p)));
      }
    });
    markers.addLayers(batch);
    if (status) {
      status.textContent = data.clustered
        ? (vi ? "Có hơn " + data.max_features + " phản ánh trong vùng này; phóng to để xem từng phản ánh."
              : "More than " + data.max_features + " reports in this area; zoom in to see each one.")
        : (vi ? shown + " phản ánh trong vùng đang xem." : shown + " reports in the area in view.");
    }
    el.setAttribute("data-loaded", data.clustered ? "clusters" : "points");
  }

  function load() {
    if (pending) pending.abort();
    pending = new AbortController();
    var url = d.api + (d.api.indexOf("?") >= 0 ? "&" : "?") + "bbox=" + encodeURIComponent(bbox());
    fetch(url, { signal: pending.signal, headers: { Accept: "application/geo+json" } })
      .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.json(); })
      .then(draw)
      .catch(function (e) {
        if (e.name === "AbortError") return;
        if (status) status.textContent = vi ? "Không tải được bản đồ phản ánh; vui lòng thử lại." : "The reports could not be loaded; please try again.";
      });
  }

  map.on("moveend", load);
  load();
}());
