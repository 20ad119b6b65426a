// The emulator's slide viewer: Leaflet in level-0 pixel coordinates (y down), deep-zoom JPEG
// tiles from the emulator, posted vectors on a canvas renderer, report points on canvas
// tiles from a grid index, one toggle per layer, a scale bar in µm, and a click shows what
// is under it. Query parameters of the full-window page: view=X,Y,ZOOM (level-0 centre and
// zoom, 0 = 1:1) and hide=NAME|ID,... (switches those layers' toggles off). Each viewer
// element carries its map (mhsMap) and, once drawn, data-visible, data-points,
// data-points-drawn and data-overlay-ms; the body gets data-ready="1" when all have loaded.
(function () {
  'use strict';
  var crs = L.extend({}, L.CRS.Simple, { transformation: new L.Transformation(1, 0, 1, 0) });
  var params = new URLSearchParams(location.search);
  var pending = 0;
  function started() { pending += 1; }
  function finished() { pending -= 1; if (pending === 0) document.body.dataset.ready = '1'; }

  function escapeHTML(s) {
    return String(s).replace(/[&<>"']/g, function (c) { return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]; });
  }
  function propertiesTable(title, props) {
    var rows = Object.keys(props || {}).map(function (k) {
      var v = props[k];
      return '<tr><th>' + escapeHTML(k) + '</th><td>' + escapeHTML(typeof v === 'object' ? JSON.stringify(v) : v) + '</td></tr>';
    });
    return '<b>' + escapeHTML(title) + '</b><table class="mhs-props">' + rows.join('') + '</table>';
  }

  // Scale bar in µm (or pixels without MPP).
  var Scale = L.Control.extend({
    options: { position: 'bottomleft', mpp: null, maxWidth: 140 },
    onAdd: function (map) {
      this._div = L.DomUtil.create('div', 'mhs-scale');
      map.on('zoomend moveend', this._update, this);
      this._map = map;
      setTimeout(this._update.bind(this), 0);
      return this._div;
    },
    _update: function () {
      var perPixel = Math.pow(2, -this._map.getZoom()) * (this.options.mpp || 1);
      var max = perPixel * this.options.maxWidth, unit = this.options.mpp ? 'µm' : 'px';
      var p = Math.pow(10, Math.floor(Math.log10(max))), n = p;
      [5, 2, 1].some(function (k) { if (k * p <= max) { n = k * p; return true; } return false; });
      var label = unit === 'µm' && n >= 1000 ? (n / 1000) + ' mm' : n + ' ' + unit;
      this._div.innerHTML = label + '<div class="bar" style="width:' + Math.round(n / perPixel) + 'px"></div>';
      this._div.dataset.umPerPixel = perPixel;
    }
  });

  // Report points: float32 (x, y, score) triples bucketed in a grid of level-0 cells, drawn
  // per canvas tile (pixels written straight into the tile when a tile holds many).
  var Points = L.GridLayer.extend({
    initialize: function (data, first, count, layer, options) {
      L.GridLayer.prototype.initialize.call(this, options);
      this.data = data; this.first = first; this.count = count; this.meta = layer;
      var cell = this.cell = 512, xs = [], ys = [];
      var maxX = 0, maxY = 0, i;
      for (i = 0; i < count; i++) {
        var o = (first + i) * 3;
        if (data[o] > maxX) maxX = data[o];
        if (data[o + 1] > maxY) maxY = data[o + 1];
      }
      var cols = this.cols = Math.floor(maxX / cell) + 1, rows = this.rows = Math.floor(maxY / cell) + 1;
      var starts = new Uint32Array(cols * rows + 1), order = new Uint32Array(count), cellOf = new Uint32Array(count);
      for (i = 0; i < count; i++) {
        var q = (first + i) * 3;
        var c = Math.min(cols - 1, Math.max(0, Math.floor(data[q] / cell))) + cols * Math.min(rows - 1, Math.max(0, Math.floor(data[q + 1] / cell)));
        cellOf[i] = c; starts[c + 1] += 1;
      }
      for (i = 0; i < cols * rows; i++) starts[i + 1] += starts[i];
      var fill = starts.slice(0, cols * rows);
      for (i = 0; i < count; i++) order[fill[cellOf[i]]++] = i;
      this.starts = starts; this.order = order;
      var rgb = parseInt(layer.color.slice(1), 16);
      this.rgba = (255 << 24) | ((rgb & 0xff) << 16) | (rgb & 0xff00) | ((rgb >> 16) & 0xff);
    },
    each: function (x0, y0, x1, y1, visit) {
      var cell = this.cell;
      var c0 = Math.max(0, Math.floor(x0 / cell)), c1 = Math.min(this.cols - 1, Math.floor(x1 / cell));
      var r0 = Math.max(0, Math.floor(y0 / cell)), r1 = Math.min(this.rows - 1, Math.floor(y1 / cell));
      for (var r = r0; r <= r1; r++) for (var c = c0; c <= c1; c++) {
        var k = c + r * this.cols;
        for (var j = this.starts[k]; j < this.starts[k + 1]; j++) {
          var o = (this.first + this.order[j]) * 3, x = this.data[o], y = this.data[o + 1];
          if (x >= x0 && x <= x1 && y >= y0 && y <= y1) visit(x, y, this.order[j]);
        }
      }
    },
    createTile: function (coords) {
      var size = this.getTileSize(), tile = document.createElement('canvas');
      tile.width = size.x; tile.height = size.y;
      var scale = Math.pow(2, coords.z), x0 = coords.x * size.x / scale, y0 = coords.y * size.y / scale;
      var r = Math.max(1.5, Math.min(7, 3 * scale)), pad = r / scale;
      var ctx = tile.getContext('2d'), w = size.x, h = size.y, xs = [], ys = [];
      this.each(x0 - pad, y0 - pad, x0 + w / scale + pad, y0 + h / scale + pad, function (x, y) {
        xs.push((x - x0) * scale); ys.push((y - y0) * scale);
      });
      var n = xs.length, self = this, i;
      if (r <= 2 || n > 3000) {
        // Many or small: discs stamped straight into the tile's pixels.
        var image = ctx.createImageData(w, h), px = new Uint32Array(image.data.buffer), rgba = this.rgba, disc = [];
        var R = Math.max(1, Math.round(r));
        for (var dy = -R; dy <= R; dy++) for (var dx = -R; dx <= R; dx++) if (dx * dx + dy * dy <= r * r + 0.5) disc.push(dx, dy);
        for (i = 0; i < n; i++) {
          var cx = Math.round(xs[i]), cy = Math.round(ys[i]);
          for (var k = 0; k < disc.length; k += 2) {
            var tx = cx + disc[k], ty = cy + disc[k + 1];
            if (tx >= 0 && ty >= 0 && tx < w && ty < h) px[ty * w + tx] = rgba;
          }
        }
        ctx.putImageData(image, 0, 0);
      } else {
        ctx.fillStyle = this.meta.color; ctx.strokeStyle = '#000'; ctx.lineWidth = 0.75;
        for (i = 0; i < n; i++) { ctx.beginPath(); ctx.arc(xs[i], ys[i], r, 0, 2 * Math.PI); ctx.fill(); ctx.stroke(); }
      }
      self.drawn = (self.drawn || 0) + n;
      return tile;
    },
    nearest: function (x, y, tolerance) {
      var best = null, bestD = tolerance * tolerance, data = this.data, first = this.first;
      this.each(x - tolerance, y - tolerance, x + tolerance, y + tolerance, function (px, py, i) {
        var d = (px - x) * (px - x) + (py - y) * (py - y);
        if (d <= bestD) { bestD = d; best = { x: px, y: py, score: data[(first + i) * 3 + 2] }; }
      });
      return best;
    }
  });

  function style(feature) {
    var s = feature.mhs || { color: '#ff0000', fill: 0.25, stroke: true, dashed: false };
    return { color: s.color, weight: s.stroke ? 3 : 0, opacity: s.stroke ? 1 : 0, fillColor: s.color, fillOpacity: s.fill, dashArray: s.dashed ? '6 4' : null };
  }

  function build(el) {
    var t0 = performance.now();
    started();
    fetch(el.dataset.overlay).then(function (r) { return r.json(); }).then(function (overlay) {
      var scan = overlay.scan, N = scan.maxLevel;
      var bounds = L.latLngBounds([0, 0], [scan.height, scan.width]);
      var map = L.map(el, { crs: crs, minZoom: -N, maxZoom: 5, zoomSnap: 0.25, zoomDelta: 0.5, preferCanvas: true, attributionControl: false });
      el.mhsMap = map;
      var tiles = L.tileLayer(scan.tiles, { tileSize: scan.tileSide, minZoom: -N, maxZoom: 5, minNativeZoom: -N, maxNativeZoom: 0, zoomOffset: N, bounds: bounds, noWrap: true, keepBuffer: 1 });
      started();
      tiles.once('load', finished);
      tiles.addTo(map);
      var view = (params.get('view') || '').split(',').map(Number);
      var linked = el.classList.contains('full') && view.length === 3 && view.every(isFinite), touched = false;
      function initial() {
        if (linked) map.setView([view[1], view[0]], view[2], { animate: false });
        else map.fitBounds(bounds, { animate: false });
      }
      initial();
      // The window may still change size (headless browsers do, once): keep the linked view
      // exact until the user moves the map.
      ['mousedown', 'wheel', 'keydown', 'touchstart'].forEach(function (type) { el.addEventListener(type, function () { touched = true; }); });
      map.on('resize', function () { if (linked && !touched) initial(); });
      new Scale({ mpp: scan.mpp ? (scan.mpp[0] + scan.mpp[1]) / 2 : null }).addTo(map);
      var layers = {}, pointLayers = [];
      // The nearest visible point within 8 screen pixels of a click, shown in a popup.
      function showPoint(latlng) {
        var tolerance = 8 * Math.pow(2, -map.getZoom());
        for (var i = 0; i < pointLayers.length; i++) {
          var p = pointLayers[i];
          if (!map.hasLayer(p)) continue;
          var hit = p.nearest(latlng.lng, latlng.lat, tolerance);
          if (hit) {
            var shown = L.extend({ x: hit.x, y: hit.y }, isNaN(hit.score) ? {} : { score: hit.score }, p.meta.properties || {});
            L.popup().setLatLng([hit.y, hit.x]).setContent(propertiesTable(p.label + ' · ' + p.meta.name, shown)).openOn(map);
            return true;
          }
        }
        return false;
      }
      function addAll(data) {
        overlay.evaluations.forEach(function (e) {
          e.layers.forEach(function (l) {
            var layer;
            if (l.kind === 'points') {
              layer = new Points(data, l.offset, l.count, l, { tileSize: 256, minZoom: -N, maxZoom: 5, bounds: bounds, noWrap: true, pane: 'overlayPane' });
              layer.label = e.label;
              pointLayers.push(layer);
            } else {
              layer = L.geoJSON({ type: 'FeatureCollection', features: l.features }, {
                style: style,
                pointToLayer: function (f, latlng) { return L.circleMarker(latlng, L.extend(style(f), { radius: 5, fillOpacity: 0.9 })); },
                onEachFeature: function (f, lyr) {
                  lyr.on('click', function (ev) {
                    L.DomEvent.stop(ev);
                    // A point drawn over the shape is what was clicked, if there is one.
                    if (!showPoint(ev.latlng)) L.popup().setLatLng(ev.latlng).setContent(propertiesTable(e.label + ' · ' + l.name, f.properties)).openOn(map);
                  });
                }
              });
            }
            layers[l.id] = layer;
            layer.addTo(map);
          });
        });
        document.querySelectorAll('input[data-map="' + el.id + '"]').forEach(function (box) {
          box.addEventListener('change', function () {
            var layer = layers[box.dataset.layer];
            if (!layer) return;
            if (box.checked) layer.addTo(map); else map.removeLayer(layer);
            el.dataset.visible = Object.keys(layers).filter(function (k) { return map.hasLayer(layers[k]); }).join(',');
          });
        });
        var hide = (params.get('hide') || '').split(',').filter(Boolean);
        if (el.classList.contains('full')) document.querySelectorAll('input[data-map="' + el.id + '"]').forEach(function (box) {
          if (hide.indexOf(box.dataset.layer) >= 0 || hide.indexOf(box.dataset.name) >= 0) box.click();
        });
        el.dataset.visible = Object.keys(layers).filter(function (k) { return map.hasLayer(layers[k]); }).join(',');
        el.dataset.points = String(overlay.pointCount);
        el.dataset.pointsDrawn = String(pointLayers.reduce(function (s, p) { return s + (p.drawn || 0); }, 0));
        el.dataset.overlayMs = String(Math.round(performance.now() - t0));
        map.on('click', function (ev) { showPoint(ev.latlng); });
        finished();
      }
      if (overlay.pointCount > 0) {
        fetch(scan.points).then(function (r) { return r.arrayBuffer(); }).then(function (b) { addAll(new Float32Array(b)); });
      } else addAll(new Float32Array(0));
    }).catch(function (err) { el.textContent = 'viewer failed: ' + err; el.dataset.error = String(err); finished(); });
  }

  started();
  document.querySelectorAll('.viewer[data-overlay]').forEach(build);
  finished();
})();
