// The jobs page: a list of this token's jobs, a submit form, and a live view of one job.
// Plain browser JavaScript, no framework, no build step. The event stream is read with fetch()
// (not EventSource) because EventSource cannot send the Authorization header.
"use strict";

const MAX_TOUR_POINTS = 4000;   // the gateway decimates the drawn tour to this many points
const LIST_REFRESH_MS = 2000;
const $ = (id) => document.getElementById(id);

const state = {
  token: sessionStorage.getItem("tsp-token") || "",
  jobId: null,
  stream: null,          // AbortController of the open stream
  trace: [],             // [seconds since admission, best length]
  startedWall: null,     // wall time of the job's first event
  lastWall: null,        // wall time of its latest event (the curve's right end)
  bound: null,
};
// Read by the browser test and by bench/gateway.py: what the page has seen.
window.tspPage = { gaps: [], lags: [], tourPoints: 0, tourLength: null, status: null };

function headers(extra) {
  return Object.assign({ Authorization: "Bearer " + state.token }, extra || {});
}

async function api(path, options) {
  const reply = await fetch(path, Object.assign({ headers: headers() }, options || {}));
  if (!reply.ok) {
    let detail = reply.statusText;
    try { detail = (await reply.json()).detail; } catch (e) { /* not JSON */ }
    throw new Error(reply.status + ": " + detail);
  }
  return reply.json();
}

const fmt = (v, digits) => (v === null || v === undefined) ? "-" :
  (Number.isInteger(v) ? String(v) : Number(v).toFixed(digits === undefined ? 2 : digits));

// -- token ---------------------------------------------------------------------------------------
$("token-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  state.token = $("token").value.trim();
  sessionStorage.setItem("tsp-token", state.token);
  refreshList();
});

// -- job list ------------------------------------------------------------------------------------
async function refreshList() {
  if (!state.token) { $("token-state").textContent = "enter a token"; return; }
  let jobs;
  try { jobs = await api("/jobs"); } catch (e) { $("token-state").textContent = e.message; return; }
  $("token-state").textContent = jobs.length + " job(s)";
  const body = $("jobs").querySelector("tbody");
  body.replaceChildren(...jobs.map((job) => {
    const row = document.createElement("tr");
    row.dataset.jobId = job.job_id;
    if (job.job_id === state.jobId) row.classList.add("selected");
    const cells = [job.job_id, job.name, job.n, job.status, fmt(job.best_length),
                   fmt(job.gap_pct, 3)];
    cells.forEach((text, i) => {
      const td = document.createElement("td");
      td.textContent = text;
      if (i === 3) td.className = "state-" + job.status;
      if (i === 2 || i >= 4) td.classList.add("num");
      row.appendChild(td);
    });
    row.addEventListener("click", () => openJob(job.job_id));
    return row;
  }));
}

// -- submit --------------------------------------------------------------------------------------
$("submit-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const file = $("file").files[0];
  if (!file) { $("submit-state").textContent = "choose an instance file"; return; }
  const query = new URLSearchParams({ time: $("time").value, bound: $("bound").checked });
  if ($("target").value) query.set("target", $("target").value);
  $("submit-state").textContent = "submitting…";
  try {
    const reply = await api("/jobs?" + query, {
      method: "POST", headers: headers({ "Content-Type": "text/plain" }), body: file });
    $("submit-state").textContent = "queued " + reply.job_id +
      (reply.warning ? " (" + reply.warning + ")" : "");
    await refreshList();
    openJob(reply.job_id);
  } catch (e) {
    $("submit-state").textContent = e.message;
  }
});

// -- one job -------------------------------------------------------------------------------------
async function openJob(jobId) {
  if (state.stream) state.stream.abort();
  Object.assign(state, { jobId, trace: [], startedWall: null, lastWall: null, bound: null });
  Object.assign(window.tspPage, { gaps: [], lags: [], tourPoints: 0, tourLength: null });
  $("job").hidden = false;
  $("job-id").textContent = jobId;
  $("events").replaceChildren();
  for (const row of $("jobs").querySelectorAll("tbody tr")) {
    row.classList.toggle("selected", row.dataset.jobId === jobId);
  }
  const events = await api("/jobs/" + jobId + "/events");
  events.forEach(addEvent);
  await drawTour();
  follow(jobId, events.length ? events[events.length - 1].id : null);
}

function showStatus(view) {
  window.tspPage.status = view.status;
  $("job-name").textContent = view.name + " (n=" + view.n + ")";
  $("status").textContent = view.status + (view.error ? ": " + view.error : "");
  $("status").className = "state-" + view.status;
  $("best").textContent = fmt(view.best_length);
  $("gap").textContent = view.gap_pct === null ? "-" : fmt(view.gap_pct, 3) + " %";
  if (view.gap_pct !== null) window.tspPage.gaps.push(view.gap_pct);
  state.bound = view.lower_bound;
  $("bound-value").textContent = fmt(view.lower_bound) + (view.lower_bound_proven ? " (proven)" : "");
  $("round").textContent = view.round + " (" + view.rounds_done + " done)";
  $("elapsed").textContent = fmt(view.elapsed, 1) + " s of " + view.time_s + " s";
  $("cancel").disabled = ["done", "failed", "cancelled"].includes(view.status);
  drawCurve();
}

function addEvent(event) {
  if (state.startedWall === null) state.startedWall = event.wall;
  state.lastWall = event.wall;
  if (event.type === "improved") {
    state.trace.push([event.wall - state.startedWall, event.data.length]);
  }
  const item = document.createElement("li");
  const t = (event.wall - state.startedWall).toFixed(2);
  item.textContent = "+" + t + "s " + event.type + " " + JSON.stringify(event.data);
  $("events").prepend(item);
}

// Read the server-sent events with fetch, so the token goes in a header; resume after lastId.
async function follow(jobId, lastId) {
  const controller = new AbortController();
  state.stream = controller;
  const extra = lastId ? { "Last-Event-ID": lastId } : {};
  let reply;
  try {
    reply = await fetch("/jobs/" + jobId + "/stream",
                        { headers: headers(extra), signal: controller.signal });
  } catch (e) { return; }
  if (!reply.ok) { $("status").textContent = "stream: " + reply.status; return; }
  const reader = reply.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        onFrame(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
      }
    }
  } catch (e) { /* aborted: another job was opened */ }
  if (state.jobId === jobId) { drawTour(); refreshList(); }
}

function onFrame(text) {
  let type = "message", data = "";
  for (const line of text.split("\n")) {
    if (line.startsWith("event: ")) type = line.slice(7);
    else if (line.startsWith("data: ")) data += line.slice(6);
  }
  if (!data) return;  // a ": ping" comment
  const payload = JSON.parse(data);
  if (type === "status") { showStatus(payload); return; }
  addEvent(payload);
  if (type === "improved") {
    const lag = Date.now() / 1000 - payload.wall;
    window.tspPage.lags.push(lag);
    $("lag").textContent = Math.max(0, 1000 * lag).toFixed(0) + " ms (commit to page)";
    drawTour();
  }
}

// -- drawing -------------------------------------------------------------------------------------
async function drawTour() {
  const jobId = state.jobId;
  let doc;
  try { doc = await api("/jobs/" + jobId + "/tour?points=" + MAX_TOUR_POINTS); }
  catch (e) { $("tour-caption").textContent = "no tour yet"; return; }
  if (jobId !== state.jobId) return;
  const canvas = $("tour"), ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (!doc.path) { $("tour-caption").textContent = "no coordinates to draw"; return; }
  const xs = doc.path.map((p) => p[0]), ys = doc.path.map((p) => p[1]);
  const minX = Math.min(...xs), minY = Math.min(...ys);
  const span = Math.max(Math.max(...xs) - minX, Math.max(...ys) - minY) || 1;
  const pad = 10, scale = (canvas.width - 2 * pad) / span;
  const px = (p) => [pad + (p[0] - minX) * scale, canvas.height - pad - (p[1] - minY) * scale];
  ctx.strokeStyle = "#2a6fb0";
  ctx.lineWidth = doc.path.length > 1000 ? 0.6 : 1.2;
  ctx.beginPath();
  doc.path.forEach((p, i) => { const [x, y] = px(p); i ? ctx.lineTo(x, y) : ctx.moveTo(x, y); });
  ctx.closePath();
  ctx.stroke();
  if (doc.path.length <= 1000) {
    ctx.fillStyle = "#c33";
    for (const p of doc.path) { const [x, y] = px(p); ctx.fillRect(x - 1.5, y - 1.5, 3, 3); }
  }
  const n = doc.tour.length;
  $("tour-caption").textContent = "best tour, length " + fmt(doc.length) +
    (doc.path.length < n ? " (drawn through " + doc.path.length + " of " + n + " nodes)" : "");
  Object.assign(window.tspPage, { tourPoints: doc.path.length, tourLength: doc.length });
}

function drawCurve() {
  const canvas = $("curve"), ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const pts = state.trace;
  if (!pts.length) return;
  const values = pts.map((p) => p[1]).concat(state.bound ? [state.bound] : []);
  const lo = Math.min(...values), hi = Math.max(...values);
  const tMax = Math.max(pts[pts.length - 1][0], state.lastWall - state.startedWall, 1);
  const pad = 34, w = canvas.width - 2 * pad, h = canvas.height - 2 * pad;
  const x = (t) => pad + (t / tMax) * w;
  const y = (v) => pad + (hi === lo ? h / 2 : (hi - v) / (hi - lo) * h);
  ctx.fillStyle = "#666";
  ctx.font = "11px sans-serif";
  ctx.fillText(fmt(hi), 2, pad - 6);
  ctx.fillText(fmt(lo), 2, pad + h + 14);
  ctx.fillText("0 s", pad, canvas.height - 4);
  ctx.fillText(tMax.toFixed(1) + " s since submission", pad + w - 120, canvas.height - 4);
  ctx.strokeStyle = "#2a6fb0";
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  pts.forEach((p, i) => {  // a step function: the best length holds until the next improvement
    if (i) ctx.lineTo(x(p[0]), y(pts[i - 1][1]));
    i ? ctx.lineTo(x(p[0]), y(p[1])) : ctx.moveTo(x(p[0]), y(p[1]));
  });
  ctx.lineTo(x(tMax), y(pts[pts.length - 1][1]));
  ctx.stroke();
  if (state.bound) {
    ctx.setLineDash([5, 4]);
    ctx.strokeStyle = "#a40";
    ctx.beginPath();
    ctx.moveTo(pad, y(state.bound));
    ctx.lineTo(pad + w, y(state.bound));
    ctx.stroke();
    ctx.setLineDash([]);
  }
}

$("cancel").addEventListener("click", async () => {
  if (state.jobId) await api("/jobs/" + state.jobId, { method: "DELETE" }).catch(() => {});
});

$("download").addEventListener("click", async (ev) => {
  ev.preventDefault();
  const reply = await fetch("/jobs/" + state.jobId + "/tour?format=tsplib", { headers: headers() });
  const link = document.createElement("a");
  link.href = URL.createObjectURL(await reply.blob());
  link.download = state.jobId + ".tour";
  link.click();
});

$("token").value = state.token;
refreshList();
setInterval(refreshList, LIST_REFRESH_MS);
