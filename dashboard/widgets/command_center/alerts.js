// 民情地图 pop-ups (st.components.v2, runs in the page): one card at a time for N seconds with a count of those
// waiting, a pulse on the grid in the map's iframe (same origin), the bundled chime when enabled, a live clock for
// [data-mq-clock] elements, and on the wall the map fitted to its frame. Every text is set with textContent.
export default function ({ data, setTriggerValue }) {
  const S = (window.__mqAlerts = window.__mqAlerts || {
    queue: [], showing: null, batches: new Set(), timer: null, audio: null, soundOk: false, clock: null,
  });
  S.data = data || {};
  S.trigger = setTriggerValue;
  if (!S.clock) S.clock = setInterval(tickClock, 1000);
  tickClock();
  if (S.data.wall) fitWallMap();
  if (S.data.batch && !S.batches.has(S.data.batch)) {
    S.batches.add(S.data.batch);
    for (const alert of S.data.alerts || []) S.queue.push(alert);
  }
  soundButton();
  if (!S.showing) showNext();
  else drawCount();
}

function box() {
  let el = document.getElementById("mq-alerts");
  if (!el) {
    el = document.createElement("div");
    el.id = "mq-alerts";
    el.setAttribute("role", "alert");
    document.body.appendChild(el);
  }
  const S = window.__mqAlerts;
  el.className = S.data.wall ? "mq-alerts mq-on-wall" : "mq-alerts";
  return el;
}

function text(tag, cls, value) {
  const el = document.createElement(tag);
  if (cls) el.className = cls;
  el.textContent = value == null ? "" : String(value);
  return el;
}

function showNext() {
  const S = window.__mqAlerts;
  const el = box();
  el.replaceChildren();
  S.showing = S.queue.shift() || null;
  if (!S.showing) { el.style.display = "none"; return; }
  const a = S.showing;
  const card = document.createElement("div");
  card.className = "mq-card mq-" + a.kind;
  card.dataset.key = a.key;
  const head = document.createElement("div");
  head.className = "mq-card-head";
  head.append(text("span", "mq-card-title", a.title), text("span", "mq-card-time", a.at));
  card.append(head, text("div", "mq-card-place", a.place),
              text("div", "mq-card-facts", [a.category, a.dept, a.status].filter(Boolean).join(" · ")));
  const actions = document.createElement("div");
  actions.className = "mq-card-actions";
  if (S.data.can_sign && a.event_id) {
    const sign = text("button", "mq-sign", "签收");
    sign.onclick = () => { S.trigger("signed", a.key); dismiss(); };
    actions.append(sign);
  }
  if (a.event_id && !S.data.wall) {
    const open = text("a", "mq-open", "详情");
    open.href = "/event?id=" + encodeURIComponent(a.event_id);
    open.target = "_self";
    actions.append(open);
  }
  const close = text("button", "mq-close", "×");
  close.title = "关闭";
  close.onclick = dismiss;
  actions.append(close);
  card.append(actions, text("div", "mq-count", ""));
  el.append(card);
  el.style.display = "block";
  drawCount();
  pulse(a.grids || [], S.data.popup_ms);
  chime();
  clearTimeout(S.timer);
  S.timer = setTimeout(showNext, S.data.popup_ms || 15000);
}

function dismiss() {
  const S = window.__mqAlerts;
  clearTimeout(S.timer);
  showNext();
}

function drawCount() {
  const S = window.__mqAlerts;
  const count = document.querySelector("#mq-alerts .mq-count");
  if (count) count.textContent = S.queue.length ? "还有 " + S.queue.length + " 条提醒" : "";
}

function scaleMapType(doc, scale) {
  // the map's own type (legend, labels, scale bar) grows with the screen like the page's
  let style = doc.getElementById("mq-scale-style");
  if (!style) {
    style = doc.createElement("style");
    style.id = "mq-scale-style";
    doc.head.appendChild(style);
  }
  const css = ".leaflet-control-container .leaflet-top, .leaflet-control-container .leaflet-bottom {zoom: " +
    scale.toFixed(3) + ";} .minqing-wall-label {font-size: " + (13 * scale).toFixed(1) + "px;}";
  if (style.textContent !== css) style.textContent = css;
}

function mapWindows() {
  const out = [];
  for (const frame of document.querySelectorAll('iframe[title*="streamlit_folium"]')) {
    try {
      const w = frame.contentWindow;
      if (w && w.map && w.L) out.push([frame, w]);
    } catch (e) { /* not ours */ }
  }
  return out;
}

function pulse(codes, ms) {
  // Until the card goes: draw the pulse on every map that shows one of the grids, and again on a map that was
  // replaced meanwhile (a newly published load redraws the map while the card is up).
  const S = window.__mqAlerts;
  const until = Date.now() + (ms || 15000);
  const drawn = new Map();  // map window -> [its map object, the pulse layer]
  clearInterval(S.pulseTimer);
  const step = () => {
    const done = Date.now() >= until;
    for (const [w, [map, shape]] of drawn) {
      if (done || w.map !== map) { try { map.removeLayer(shape); } catch (e) { /* gone with its map */ } drawn.delete(w); }
    }
    if (done) { clearInterval(S.pulseTimer); return; }
    for (const [, w] of mapWindows()) {
      if (drawn.has(w)) continue;
      const layers = w.minqingGridLayers || {};
      const code = codes.find((c) => layers[c]);
      if (!code) continue;
      pulseStyle(w.document);
      const shape = w.L.featureGroup([
        w.L.polygon(layers[code].getLatLngs(), {
          className: "mq-pulse", color: "#ff2d55", fillColor: "#ff2d55", weight: 3, fillOpacity: 0.45,
          interactive: false,
        }),
        w.L.circleMarker(layers[code].getBounds().getCenter(), {  // a ring that finds a small grid on a big map
          className: "mq-pulse", radius: 22, color: "#ff2d55", weight: 3, fill: false, interactive: false,
        }),
      ]).addTo(w.map);
      w.__mqLastPulse = code;
      drawn.set(w, [w.map, shape]);
    }
  };
  step();
  S.pulseTimer = setInterval(step, 500);
}

function pulseStyle(doc) {
  if (doc.getElementById("mq-pulse-style")) return;
  const style = doc.createElement("style");
  style.id = "mq-pulse-style";
  style.textContent = "@keyframes mqPulse {0% {stroke-width: 3; stroke-opacity: 1; fill-opacity: .55}" +
    " 50% {stroke-width: 14; stroke-opacity: .35; fill-opacity: .15} 100% {stroke-width: 3; stroke-opacity: 1;" +
    " fill-opacity: .55}} path.mq-pulse {animation: mqPulse 1.2s ease-in-out infinite;}";
  doc.head.appendChild(style);
}

function chime() {
  const S = window.__mqAlerts;
  if (!S.data.sound || !S.data.sound_url) return;
  if (!S.audio) S.audio = new Audio(S.data.sound_url);
  S.audio.currentTime = 0;
  S.audio.play().then(() => { S.soundOk = true; soundButton(); }).catch(() => { S.soundOk = false; soundButton(); });
}

function soundButton() {
  const S = window.__mqAlerts;
  let button = document.getElementById("mq-sound");
  const wanted = S.data.sound && !S.soundOk;
  if (!wanted) { if (button) button.remove(); return; }
  if (!button) {
    button = text("button", "mq-sound", "🔔 启用提示音");
    button.id = "mq-sound";
    button.onclick = () => {
      if (!S.audio) S.audio = new Audio(S.data.sound_url);
      S.audio.play().then(() => { S.soundOk = true; soundButton(); }).catch(() => {});
    };
    document.body.appendChild(button);
  }
}

function tickClock() {
  const now = new Date();
  const pad = (n) => String(n).padStart(2, "0");
  const time = pad(now.getHours()) + ":" + pad(now.getMinutes()) + ":" + pad(now.getSeconds());
  for (const el of document.querySelectorAll("[data-mq-clock]")) el.textContent = time;
}

function fitWallMap() {
  const scale = parseFloat(getComputedStyle(document.documentElement).fontSize) / 16 || 1;
  for (const [frame, w] of mapWindows()) {
    const div = w.document.getElementById("map_div");
    const box = frame.getBoundingClientRect();
    scaleMapType(w.document, scale);
    const size = Math.round(box.width) + "x" + Math.round(box.height);
    if (!div || !box.height || div.__mqSize === size) continue;
    div.style.height = box.height + "px";
    div.style.width = "100%";
    div.__mqSize = size;
    w.map.invalidateSize();
    const layers = Object.values(w.minqingGridLayers || {});
    if (layers.length) w.map.fitBounds(w.L.featureGroup(layers).getBounds(), { padding: [6, 6] });
  }
  const S = window.__mqAlerts;
  if (!S.resizeHooked) {
    S.resizeHooked = true;
    window.addEventListener("resize", () => setTimeout(fitWallMap, 200));
  }
  if (!S.fitLater) {  // the map's iframe may still be loading: look again shortly
    S.fitLater = setInterval(fitWallMap, 2000);
  }
}
