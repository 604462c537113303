// dsodetect live page: renders /api/session and follows /api/events (server-sent events).
// Plain JS, no dependencies, so that it works offline beside the telescope.
"use strict";

const COLOURS = { classical: "#5ee08a", yolo: "#ffbf47", xai: "#ff7ad9", pix2pix: "#7fd4ff" };
const PALETTE = ["#5ee08a", "#ffbf47", "#ff7ad9", "#7fd4ff", "#ff8f5e", "#c3a6ff"];
const SVGNS = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);

const saved = JSON.parse(localStorage.getItem("dso-toggles") || "{}");
const toggles = new Map(Object.entries(saved));
let state = null;
let toggleKeys = "";

function colour(method, i = 0) {
  return COLOURS[method] || PALETTE[i % PALETTE.length];
}

function fmtDur(s) {
  if (s === null || s === undefined || !isFinite(s)) return "\u2013";
  if (s < 90) return `${Math.round(s)} s`;
  const m = s / 60;
  if (m < 90) return `${Math.round(m)} min`;
  const h = Math.floor(Math.round(m) / 60);
  return `${h} h ${String(Math.round(m) % 60).padStart(2, "0")} min`;
}

function fmtSnr(v) {
  return Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(1);
}

function el(tag, attrs = {}, text) {
  const e = tag.startsWith("svg:") ? document.createElementNS(SVGNS, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "style") e.style.cssText = v;  // CSSOM: allowed by the page's CSP, style attributes are not
    else e.setAttribute(k, v);
  }
  if (text !== undefined) e.textContent = text;
  return e;
}

function fileUrl(rel, version) {
  return "/files/" + rel.split("/").map(encodeURIComponent).join("/") + `?v=${version}`;
}

function isOn(key, dflt) {
  return toggles.has(key) ? toggles.get(key) : dflt;
}

function setToggle(key, value) {
  toggles.set(key, value);
  localStorage.setItem("dso-toggles", JSON.stringify(Object.fromEntries(toggles)));
  if (state) render(state);
}

// ------------------------------------------------------------------ toggles
function toggleList(latest) {
  const list = [];
  if (latest) {
    Object.keys(latest.methods).forEach((m, i) => {
      list.push({ key: `boxes:${m}`, label: `${m} boxes`, dflt: true, colour: colour(m, i) });
      for (const p of Object.keys(latest.methods[m].products || {})) {
        list.push({ key: `product:${m}:${p}`, label: `${m} ${p.replace(/_/g, " ")}`, dflt: false, colour: colour(m, i) });
      }
    });
    list.push({ key: "labels", label: "names", dflt: true });
  }
  list.push({ key: "red", label: "red light", dflt: false, colour: "#c00" });
  return list;
}

function renderToggles(latest) {
  const list = toggleList(latest);
  const keys = list.map((t) => t.key).join("|");
  const box = $("toggles");
  if (keys !== toggleKeys) {
    box.replaceChildren();
    for (const t of list) {
      const b = el("button", { type: "button", "data-key": t.key, "data-testid": `toggle-${t.key}` });
      if (t.colour) b.append(el("span", { class: "sw", style: `background:${t.colour}` }));
      b.append(document.createTextNode(t.label));
      b.addEventListener("click", () => setToggle(t.key, !isOn(t.key, t.dflt)));
      box.append(b);
    }
    toggleKeys = keys;
  }
  for (const t of list) {
    box.querySelector(`[data-key="${CSS.escape(t.key)}"]`).setAttribute("aria-pressed", String(isOn(t.key, t.dflt)));
  }
  document.body.classList.toggle("red", isOn("red", false));
}

// ------------------------------------------------------------------ image + overlays
function renderImage(s, latest) {
  const frame = $("frame");
  $("empty").hidden = Boolean(latest);
  frame.hidden = !latest;
  if (!latest) return;
  frame.style.setProperty("--ar", `${latest.width / latest.height}`);
  const src = fileUrl(latest.view, latest.id);
  const base = $("base");
  if (base.dataset.src !== src) {
    // Swap only once loaded: no flash of an empty frame on a projector.
    const pre = new Image();
    pre.onload = () => { base.src = src; base.dataset.src = src; base.dataset.stack = String(latest.id); };
    pre.src = src;
  }
  $("caption").textContent = `${latest.name} \u00b7 ${fmtTime(latest)} integration` +
    (latest.seconds && SOURCE_WORDS[latest.seconds_source] ? ` (${SOURCE_WORDS[latest.seconds_source]})` : "");

  const layers = $("layers");
  const want = [];
  Object.entries(latest.methods).forEach(([m, r]) => {
    for (const [p, rel] of Object.entries(r.products || {})) {
      if (isOn(`product:${m}:${p}`, false)) want.push({ key: `${m}:${p}`, src: fileUrl(rel, latest.id), blend: p !== "starless" });
    }
  });
  layers.replaceChildren(...want.map((w) => el("img", { src: w.src, alt: w.key, "data-layer": w.key, class: w.blend ? "blend" : "" })));

  const svg = $("boxes");
  svg.setAttribute("viewBox", `0 0 ${latest.width} ${latest.height}`);
  svg.replaceChildren();
  const font = Math.max(12, latest.height / 26);
  const methods = Object.keys(latest.methods);
  // One box per object of the shown set (the same set the header counts and the list shows).
  for (const t of shownTracks(s)) {
    const last = t.observations[t.observations.length - 1];
    const m = (last.methods || []).find((x) => isOn(`boxes:${x}`, true));
    if (!m) continue;
    const i = Math.max(0, methods.indexOf(m));
    const [x0, y0, x1, y1] = t.box;
    const g = el("svg:g", { "data-method": m, "data-track": t.id, class: "det" });
    g.append(el("svg:rect", { x: x0, y: y0, width: x1 - x0, height: y1 - y0, stroke: colour(m, i), rx: 4 }));
    if (isOn("labels", true)) {
      // Above the box, else below it, else inside its top edge.
      const ty = y0 - font * 0.3 > font ? y0 - font * 0.3 : (y1 + font < latest.height ? y1 + font : y0 + font * 1.1);
      g.append(el("svg:text", { x: x0 + font * 0.2, y: ty, fill: colour(m, i), "font-size": font },
                  t.names.length ? t.names[0] : `#${t.id}`));
    }
    svg.append(g);
  }
}

// The one filtered set behind the count, the list and the boxes: objects in the latest stack with an
// announced score (session.json "shown").
function shownTracks(s) {
  return (s.tracks || []).filter((t) => t.shown);
}

const SOURCE_WORDS = { estimated: "estimated from file times", held: "at least: the stack never shrinks",
                       filename: "from the file name", sidecar: "from the app's shotsInfo.json" };

function fmtTime(stack) {
  if (!stack || !stack.seconds) return "unknown";
  if (stack.seconds_source === "estimated") return `~${fmtDur(stack.seconds)}`;
  if (stack.seconds_source === "held") return `\u2265 ${fmtDur(stack.seconds)}`;
  return fmtDur(stack.seconds);
}

function signalBar(sig) {
  const wrap = el("span", { class: `signal ${sig.level}`, "data-testid": "signal",
                            title: "how clearly it shows: faint, clear or bright" });
  const bar = el("span", { class: "bar" });
  bar.append(el("span", { class: "fill", style: `width:${Math.round(100 * (sig.bar || 0))}%` }));
  wrap.append(bar, el("span", { class: "word" }, sig.level === "unknown" ? "" : sig.level));
  return wrap;
}

// ------------------------------------------------------------------ panels
function renderObjects(s, latest) {
  const list = $("objects");
  list.replaceChildren();
  // The shown set (as counted in the header and drawn on the image): named ones first, then the clearest.
  const tracks = shownTracks(s).sort((a, b) =>
    (b.names.length > 0) - (a.names.length > 0) || (b.signal ? b.signal.bar : 0) - (a.signal ? a.signal.bar : 0));
  for (const t of tracks) {
    const last = t.observations[t.observations.length - 1];
    const li = el("li", { "data-track": t.id, style: `border-color:${colour((last.methods || [])[0])}` });
    const head = el("div", { class: "name" }, t.label);
    if (t.signal) head.append(signalBar(t.signal));
    li.append(head);
    if (t.description) li.append(el("div", { class: "desc" }, t.description));
    const seen = t.first_seconds ? `seen from ${fmtDur(t.first_seconds)}` : `seen from stack ${t.first_stack}`;
    li.append(el("div", { class: "meta" }, seen));
    const details = el("details", { class: "meta" });
    details.append(el("summary", {}, "details"));
    const bits = [`detector score ${last.score.toFixed(2)}`];
    if (last.snr !== null && last.snr !== undefined) bits.push(`S/N ${fmtSnr(last.snr)}`);
    if (last.methods && last.methods.length) bits.push(last.methods.join("+"));
    details.append(el("div", {}, bits.join(" \u00b7 ")));
    li.append(details);
    if (t.marginal && t.eta_seconds && latest && latest.seconds) {
      li.append(el("div", { class: "meta marginal" },
        `faint: should be clear after ~${fmtDur(t.eta_seconds)} (${fmtDur(Math.max(0, t.eta_seconds - latest.seconds))} more)`));
    }
    list.append(li);
  }
  if (!tracks.length) list.append(el("li", { class: "gone" }, latest ? "Nothing detected yet" : "\u2013"));

  const tg = s.target || {};
  let eta = "";
  if (latest && !tg.confirmed) {
    if (tg.remaining_seconds === 0) {
      eta = `Signal at the frame centre (S/N ${fmtSnr(latest.target_snr)}) but no method finds the target there yet.`;
    } else if (tg.remaining_seconds !== null && tg.remaining_seconds !== undefined) {
      eta = `Target S/N ${fmtSnr(latest.target_snr)} now; at \u221At growth it should show (S/N ${tg.snr_threshold}) ` +
            `after ~${fmtDur(tg.needed_seconds)} in total, ${fmtDur(tg.remaining_seconds)} more.`;
    } else {
      eta = "No growing signal at the frame centre yet.";
    }
  }
  $("eta").textContent = eta;
}

function renderTimeline(s) {
  const svg = $("timeline");
  svg.replaceChildren();
  const W = 600, H = 260, L = 64, R = 12, T = 14, B = 36;
  const stacks = s.stacks.filter((x) => x.seconds);
  if (!stacks.length) {
    svg.append(el("svg:text", { x: L, y: H / 2 }, "Objects will appear here as integration grows"));
    return;
  }
  const tg = s.target || {};
  let tmax = Math.max(...stacks.map((x) => x.seconds));
  if (!tg.confirmed && tg.needed_seconds) tmax = Math.max(tmax, Math.min(tg.needed_seconds, tmax * 3));
  const pts = shownTracks(s).flatMap((t) => t.observations.filter((o) => o.seconds && o.snr !== null));
  let smax = Math.max(tg.snr_threshold || 5, ...pts.map((o) => o.snr), ...stacks.map((x) => x.target_snr || 0));
  smax *= 1.1;
  const X = (t) => L + (W - L - R) * (t / tmax);
  const Y = (v) => H - B - (H - T - B) * (Math.max(0, v) / smax);
  svg.append(el("svg:line", { x1: L, y1: H - B, x2: W - R, y2: H - B, class: "axis" }));
  svg.append(el("svg:line", { x1: L, y1: T, x2: L, y2: H - B, class: "axis" }));
  svg.append(el("svg:text", { x: W - R, y: H - 8, "text-anchor": "end" }, `integration (${fmtDur(tmax)})`));
  svg.append(el("svg:text", { x: 4, y: (T + H - B) / 2 }, "S/N"));
  svg.append(el("svg:text", { x: L - 6, y: Y(smax / 1.1) + 5, "text-anchor": "end" }, `${Math.round(smax / 1.1)}`));
  if (tg.snr_threshold) {
    svg.append(el("svg:line", { x1: L, x2: W - R, y1: Y(tg.snr_threshold), y2: Y(tg.snr_threshold), class: "thr" }));
  }
  // Target aperture and its sqrt(t) projection while it is not confirmed.
  if (!tg.confirmed) {
    const tp = stacks.map((x) => `${X(x.seconds)},${Y(x.target_snr || 0)}`).join(" ");
    svg.append(el("svg:polyline", { points: tp, class: "proj", "data-series": "target" }));
    if (tg.snr_per_sqrt_s) {
      const curve = [];
      for (let i = 0; i <= 40; i++) { const t = tmax * i / 40; curve.push(`${X(t)},${Y(tg.snr_per_sqrt_s * Math.sqrt(t))}`); }
      svg.append(el("svg:polyline", { points: curve.join(" "), class: "proj", opacity: 0.5 }));
    }
  }
  const usedY = [];
  shownTracks(s).forEach((t) => {
    const obs = t.observations.filter((o) => o.seconds && o.snr !== null);
    if (!obs.length) return;
    const c = colour((obs[obs.length - 1].methods || [])[0]);
    svg.append(el("svg:polyline", { points: obs.map((o) => `${X(o.seconds)},${Y(o.snr)}`).join(" "),
                                    fill: "none", stroke: c, "stroke-width": 3, "data-track": t.id }));
    const f = obs[0];
    svg.append(el("svg:circle", { cx: X(f.seconds), cy: Y(f.snr), r: 6, fill: c }));
    const o = obs[obs.length - 1];
    let ly = Y(o.snr) - 10;
    while (usedY.some((u) => Math.abs(u - ly) < 22)) ly += 22;  // keep labels apart
    usedY.push(ly);
    const right = X(o.seconds) > (L + W) / 2;  // label on the side with room
    svg.append(el("svg:text", { x: right ? X(o.seconds) - 4 : X(o.seconds) + 8, y: ly, fill: c, class: "lbl",
                                "text-anchor": right ? "end" : "start" }, t.label));
  });
}

function renderEvents(s) {
  const list = $("events");
  list.replaceChildren();
  for (const e of s.events.slice(-8)) {
    const li = el("li", { class: e.kind });
    const when = new Date(e.created * 1000);
    li.append(el("span", { class: "t" }, when.toTimeString().slice(0, 5)));
    li.append(document.createTextNode(e.message));
    list.append(li);
  }
}

function render(s) {
  state = s;
  const latest = s.stacks.length ? s.stacks[s.stacks.length - 1] : null;
  const tg = s.target || {};
  $("target-name").textContent = tg.name || "Live session";
  const badge = $("target-status");
  badge.hidden = !latest;
  badge.textContent = tg.confirmed ? "\u2713 target confirmed" : "target not yet confirmed";
  badge.className = "badge " + (tg.confirmed ? "ok" : "wait");
  $("integration").textContent = latest ? fmtTime(latest) : "\u2013";
  $("stack-count").textContent = String(s.stacks.length);
  $("object-count").textContent = String(shownTracks(s).length);
  renderToggles(latest);
  renderImage(s, latest);
  renderObjects(s, latest);
  renderTimeline(s);
  renderEvents(s);
  window.dsoLive = { version: s.version, stack: latest ? latest.id : null, receivedAt: Date.now(),
                     latencyMs: s.updated ? Date.now() - s.updated * 1000 : null };
}

// ------------------------------------------------------------------ live connection
function connect() {
  const conn = $("conn");
  fetch("/api/session").then((r) => r.json()).then(render).catch(() => {});
  if (!window.EventSource) { setInterval(() => fetch("/api/session").then((r) => r.json()).then(render), 5000); return; }
  const es = new EventSource("/api/events");
  es.addEventListener("session", (e) => { conn.className = "conn live"; render(JSON.parse(e.data)); });
  es.onopen = () => { conn.className = "conn live"; };
  es.onerror = () => { conn.className = "conn lost"; };  // EventSource reconnects by itself
}

document.addEventListener("keydown", (e) => {
  if (e.key === "r" && !e.ctrlKey && !e.metaKey) setToggle("red", !isOn("red", false));
});
// The QR code `dsodetect serve --host 0.0.0.0` writes (phone.json, phone-qr.png in the session folder).
function showPhone() {
  fetch("/files/phone.json").then((r) => (r.ok ? r.json() : null)).then((p) => {
    if (!p || !p.urls || !p.urls.length) return;
    $("phone-qr").src = `/files/${p.qr}`;
    $("phone-url").textContent = p.urls.join("  ");
    $("phone-url").href = p.urls[0];
    $("phone").hidden = false;
  }).catch(() => {});
}

document.addEventListener("DOMContentLoaded", () => { connect(); showPhone(); });
