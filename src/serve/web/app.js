// The facemask dashboard: polls the JSON API (docs/api.md) and shows each camera's live view;
// on an aggregating node, the other nodes' cameras too (counters only, marked remote).
// No framework; the chart is uPlot (embedded from the npm registry at build time).
"use strict";

const $ = (id) => document.getElementById(id);
const el = (tag, attrs, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k);
  return e;
};
const pct = (x) => (x === null || x === undefined ? "–" : (100 * x).toFixed(0) + "%");
const hhmm = (t) => new Date(t * 1000).toLocaleTimeString([], {hour: "2-digit", minute: "2-digit",
                                                                second: "2-digit"});

async function getJSON(url) {
  const r = await fetch(url, {cache: "no-store"});
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.error || r.status + " " + r.statusText);
  return body;
}

const cards = new Map(); // camera name -> {root, fields}
let dayStart = 0;
// A browser keeps at most 6 HTTP/1.1 connections per server and each live view holds one, so
// only the first MAX_LIVE cameras play at once; the others start on a click.
const MAX_LIVE = 4;
let liveCards = 0;

function setLive(f, on) {
  f.wanted = on;
  f.toggle.textContent = on ? "pause" : "watch live";
  if (!on && f.streaming) {
    f.img.removeAttribute("src");
    f.streaming = false;
  }
}

function card(cam) {
  let c = cards.get(cam.name);
  if (c) return c;
  const f = {};
  const stat = (key, label) => {
    f[key] = el("span", {class: "v"}, "–");
    return el("div", {class: "stat", "data-stat": key}, el("span", {class: "k"}, label), f[key]);
  };
  f.status = el("span", {class: "status"});
  f.toggle = el("button", {type: "button", class: "toggle"});
  let root;
  if (cam.local === false) {
    // another node's camera (MQTT aggregation): its counters as last heard, no live view
    f.img = el("div", {class: "remote", title: "this camera's live view is on node " + cam.node},
               "remote: node " + cam.node);
    f.toggle.hidden = true;
    root = el("article", {class: "cam remote-cam", "data-camera": cam.name, "data-node": cam.node},
      f.img,
      el("div", {class: "meta"}, el("h3", {}, cam.name, el("span", {}, f.toggle, " ", f.status)),
         stat("people_now", "in view"), stat("people", "since its start"),
         stat("compliance", "compliance since its start"), stat("fps", "fps")));
  } else {
    // the stream is opened once the camera runs (a stopped camera has no picture to send)
    const img = el("img", {alt: "", title: "live view of " + cam.name});
    img.addEventListener("error", () => {
      img.removeAttribute("src");
      f.streaming = false; // reopened by the next refresh while the camera runs
    });
    f.img = img;
    f.toggle.addEventListener("click", () => { setLive(f, !f.wanted); refreshCameras(); });
    setLive(f, liveCards++ < MAX_LIVE);
    root = el("article", {class: "cam", "data-camera": cam.name}, img,
      el("div", {class: "meta"}, el("h3", {}, cam.name, el("span", {}, f.toggle, " ", f.status)),
         stat("people_now", "in view"), stat("today", "today"),
         stat("compliance", "compliance today"), stat("fps", "fps")));
    // the event filter: this node's history has only its own cameras
    $("f-camera").append(el("option", {value: cam.name}, cam.name));
  }
  $("cameras").append(root);
  c = {root, f, local: cam.local !== false};
  cards.set(cam.name, c);
  return c;
}

const num = (x) => (x === null || x === undefined ? "–" : String(x));

// A remote camera's card: its node's last state message, "offline" once the node is gone.
function fillRemote(f, cam) {
  const status = !cam.online ? "offline" : cam.status || "waiting";
  f.status.textContent = status;
  f.status.className = "status " + status;
  f.status.title = "node " + cam.node + (cam.updated ? ", state of " + hhmm(cam.updated) : "");
  f.people_now.textContent = num(cam.people_now);
  f.people.textContent = num(cam.people);
  f.compliance.textContent = pct(cam.compliance);
  f.fps.textContent = cam.fps === null ? "–" : cam.fps.toFixed(1);
}

async function refreshCameras() {
  try {
    const d = await getJSON("/api/cameras");
    dayStart = d.day_start;
    let now = 0, today = 0, masked = 0, unmasked = 0;
    for (const cam of d.cameras) {
      const {f} = card(cam);
      if (cam.local === false) {
        fillRemote(f, cam);
        if (cam.online && cam.people_now) now += cam.people_now;
        continue;
      }
      if (cam.live && f.wanted && cam.status === "running" && !f.streaming) {
        f.streaming = true;
        f.img.src = cam.live;
      }
      f.status.textContent = cam.status;
      f.status.className = "status " + cam.status;
      f.status.title = cam.error || "";
      f.people_now.textContent = cam.people_now;
      f.today.textContent = cam.today.people;
      f.compliance.textContent = pct(cam.today.compliance);
      f.fps.textContent = cam.fps === null ? "–" : cam.fps.toFixed(1);
      now += cam.people_now; today += cam.today.people;
      masked += cam.today.masked; unmasked += cam.today.unmasked;
    }
    $("total-now").textContent = now;
    $("total-today").textContent = today;
    $("total-compliance").textContent = masked + unmasked ? pct(masked / (masked + unmasked)) : "–";
    $("clock").textContent = new Date(d.time * 1000).toLocaleString();
    $("conn").textContent = "live";
    $("conn").className = "conn";
  } catch (e) {
    $("conn").textContent = "cannot reach facemask: " + e.message;
    $("conn").className = "conn bad";
  }
}

let plot = null;
async function refreshChart() {
  if (!dayStart) return;
  const d = await getJSON("/api/stats?bucket=hour&since=" + Math.floor(dayStart));
  const names = [...cards.keys()].filter((n) => cards.get(n).local); // this node's history
  const hours = [];
  for (let h = 0; h < 24; h++) hours.push(dayStart + 3600 * h);
  const series = names.map((n) => hours.map((t) => {
    const r = d.rows.find((x) => x.camera === n && x.hour === t);
    return r && r.compliance !== null ? 100 * r.compliance : null;
  }));
  $("chart-empty").hidden = d.rows.length > 0;
  const colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf"];
  const opts = {
    width: Math.max(320, $("chart").clientWidth || 800), height: 240,
    scales: {y: {range: [0, 100]}},
    axes: [{}, {label: "% masked", values: (u, v) => v.map((x) => x + "%")}],
    series: [{}].concat(names.map((n, i) => ({label: n, stroke: colors[i % colors.length],
                                              width: 2, spanGaps: false,
                                              points: {show: true}}))),
  };
  if (plot) plot.destroy();
  plot = new uPlot(opts, [hours].concat(series), $("chart"));
}

async function refreshSnapshots() {
  const d = await getJSON("/api/snapshots?limit=12");
  const box = $("snapshots");
  box.replaceChildren(...d.snapshots.map((s) => el("figure", {},
    el("a", {href: s.url, target: "_blank"}, el("img", {src: s.url, alt: "snapshot " + s.id,
                                                         loading: "lazy"})),
    el("figcaption", {}, s.camera + " · " + hhmm(s.time) +
       (s.track !== null ? " · #" + s.track : "")))));
  $("snapshots-empty").hidden = d.snapshots.length > 0;
}

function isoParam(v) { // datetime-local (local time) -> Unix seconds
  return v ? String(Math.floor(new Date(v).getTime() / 1000)) : "";
}

async function refreshEvents(ev) {
  if (ev) ev.preventDefault();
  const q = new URLSearchParams();
  const cam = $("f-camera").value, since = isoParam($("f-since").value),
        until = isoParam($("f-until").value), limit = $("f-limit").value;
  const type = $("f-type").value;
  if (cam) q.set("camera", cam);
  if (type) q.set("type", type);
  if (since) q.set("since", since);
  if (until) q.set("until", until);
  if (limit) q.set("limit", limit);
  try {
    const d = await getJSON("/api/events?" + q);
    $("events").tBodies[0].replaceChildren(...d.events.map((e) => el("tr", {},
      el("td", {}, new Date(e.time * 1000).toLocaleString()), el("td", {}, e.camera),
      el("td", {}, e.type), el("td", {}, e.track === null ? "" : "#" + e.track),
      el("td", {class: e.label || ""}, e.label || ""))));
    $("events-error").hidden = true;
  } catch (e) {
    $("events-error").textContent = e.message;
    $("events-error").hidden = false;
  }
}

async function tick(fn, ms) {
  try { await fn(); } catch (e) { /* shown by refreshCameras' connection state */ }
  setTimeout(() => tick(fn, ms), ms);
}

$("filters").addEventListener("submit", refreshEvents);
(async () => {
  await refreshCameras();
  tick(refreshCameras, 2000);
  tick(refreshChart, 30000);
  tick(refreshSnapshots, 10000);
  tick(refreshEvents, 10000);
})();
