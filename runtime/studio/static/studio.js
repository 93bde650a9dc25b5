// l2m-edge studio page: camera (or the server's source) → WebSocket → edited frames, with the controls.
// Page contract (README "Studio"): #edited, #attr, #strength, #edit, #start, and
// window.l2mStudio.stats() / .snapshot().
const $ = (id) => document.getElementById(id);
const FRAME_HEADER = 12; // uint32 frame id, float64 capture time (ms, performance.now())
const REPLY_HEADER = 17; // + float32 server ms, uint8 view (0 edited, 1 the server source's frame before the edit)
const JPEG_QUALITY = 0.85;
const RTT_WINDOW = 120; // round trips (and encode/decode times) kept for p50/p90
const FPS_WINDOW_MS = 2000;

const state = {
  ws: null, hello: null, closed: false, running: false,
  nextId: 1, inFlight: new Set(), lastShown: 0,
  sent: 0, received: 0, dropped: 0, rtts: [], encodeMs: [], decodeMs: [], shownAt: [], stages: {}, controls: null, serverMs: 0,
  grab: document.createElement("canvas"), recorder: null,
};

function showMessage(text) {
  $("message").textContent = text;
  $("message").hidden = !text;
}

function percentile(values, q) {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const at = (sorted.length - 1) * q / 100;
  const lo = Math.floor(at), hi = Math.ceil(at);
  return +(sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo)).toFixed(2);
}

function keep(values, ms) {
  values.push(ms);
  if (values.length > RTT_WINDOW) values.shift();
}

function stats() {
  const now = performance.now();
  const recent = state.shownAt.filter((t) => now - t <= FPS_WINDOW_MS);
  const span = recent.length > 1 ? (recent[recent.length - 1] - recent[0]) / 1000 : 0;
  return {
    sent: state.sent, received: state.received, dropped: state.dropped,
    rtt_p50_ms: percentile(state.rtts, 50), rtt_p90_ms: percentile(state.rtts, 90),
    fps: span > 0 ? +((recent.length - 1) / span).toFixed(2) : 0,
    server_ms: +state.serverMs.toFixed(2), stages_ms: state.stages, controls: state.controls,
    page_encode_ms: percentile(state.encodeMs, 50), page_decode_ms: percentile(state.decodeMs, 50),
  };
}

// The latest edited frame at the camera's resolution (the canvas takes each frame's size).
function snapshot() { return $("edited").toDataURL("image/png"); }

window.l2mStudio = { stats, snapshot, get hello() { return state.hello; } };

function sendControls() {
  if (!state.ws || state.ws.readyState !== WebSocket.OPEN) return;
  const strength = parseFloat($("strength").value);
  $("strength-value").textContent = strength.toFixed(2);
  state.ws.send(JSON.stringify({
    type: "controls", target: parseInt($("attr").value, 10), strength,
    edit: $("edit").checked, faces: $("faces").value, compare: $("compare").checked,
  }));
}

function sendFrame(jpeg, captured, id) {
  const header = new DataView(new ArrayBuffer(FRAME_HEADER));
  header.setUint32(0, id, true);
  header.setFloat64(4, captured, true);
  const message = new Uint8Array(FRAME_HEADER + jpeg.byteLength);
  message.set(new Uint8Array(header.buffer), 0);
  message.set(new Uint8Array(jpeg), FRAME_HEADER);
  state.ws.send(message);
  state.sent += 1;
}

function slotFree() {
  return state.ws && state.ws.readyState === WebSocket.OPEN && state.inFlight.size < state.hello.max_in_flight;
}

// Browser source: one camera frame at a time goes out when a slot is free; the others are dropped here.
async function grabFrame(video) {
  if (!state.running) return;
  if (!slotFree()) { state.dropped += 1; return; }
  const id = state.nextId++;
  state.inFlight.add(id);
  const captured = performance.now();
  state.grab.width = video.videoWidth;
  state.grab.height = video.videoHeight;
  state.grab.getContext("2d").drawImage(video, 0, 0);
  const blob = await new Promise((resolve) => state.grab.toBlob(resolve, "image/jpeg", JPEG_QUALITY));
  keep(state.encodeMs, performance.now() - captured);
  if (!blob || !state.ws || state.ws.readyState !== WebSocket.OPEN) { state.inFlight.delete(id); return; }
  sendFrame(await blob.arrayBuffer(), captured, id);
}

function everyVideoFrame(video, callback) {
  if ("requestVideoFrameCallback" in HTMLVideoElement.prototype) {
    const step = () => { callback(); video.requestVideoFrameCallback(step); };
    video.requestVideoFrameCallback(step);
  } else {
    const step = () => { callback(); requestAnimationFrame(step); };
    requestAnimationFrame(step);
  }
}

function blockedCameraReason() {
  if (window.isSecureContext && navigator.mediaDevices && navigator.mediaDevices.getUserMedia) return null;
  return `The browser blocks the camera on this page: it gives pages the camera only over https or on localhost, and this page is ${location.origin}.\n`
    + "Either start the studio with TLS (for a host other than localhost `l2m-edge studio --host 0.0.0.0` uses a self-signed certificate; or pass --tls-cert/--tls-key) and open its https:// URL, "
    + "or tunnel it over SSH (`ssh -L 8765:localhost:8765 user@device`) and open http://localhost:8765/ here.";
}

async function startCamera() {
  const blocked = blockedCameraReason();
  if (blocked) { showMessage(blocked); return; }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
  } catch (error) {
    showMessage(`The camera did not start (${error.name}: ${error.message}). Allow the camera for this page in the browser's site settings, or close other programs using it, then press Start again.`);
    return;
  }
  const video = $("camera");
  video.srcObject = stream;
  await video.play();
  state.running = true;
  $("start").disabled = true;
  $("start").textContent = "Camera on";
  everyVideoFrame(video, () => grabFrame(video));
}

// Server source: the page asks for the newest edited frame whenever a slot is free.
function requestFrames() {
  while (state.running && slotFree()) {
    const id = state.nextId++;
    state.inFlight.add(id);
    sendFrame(new ArrayBuffer(0), performance.now(), id);
  }
}

async function draw(canvas, jpeg) {
  const decodeStart = performance.now();
  const bitmap = await createImageBitmap(new Blob([jpeg], { type: "image/jpeg" }));
  keep(state.decodeMs, performance.now() - decodeStart);
  if (canvas.width !== bitmap.width || canvas.height !== bitmap.height) {
    canvas.width = bitmap.width;
    canvas.height = bitmap.height;
  }
  canvas.getContext("2d").drawImage(bitmap, 0, 0);
  bitmap.close();
}

async function onReply(buffer) {
  const view = new DataView(buffer);
  if (view.getUint8(16) === 1) { await draw($("before"), buffer.slice(REPLY_HEADER)); return; }
  const id = view.getUint32(0, true);
  const captured = view.getFloat64(4, true);
  state.serverMs = view.getFloat32(12, true);
  state.inFlight.delete(id);
  state.received += 1;
  keep(state.rtts, performance.now() - captured);
  if (state.hello.source === "server") requestFrames();
  if (id < state.lastShown) return; // an older frame than the one on screen
  state.lastShown = id;
  await draw($("edited"), buffer.slice(REPLY_HEADER));
  const now = performance.now();
  state.shownAt.push(now);
  while (state.shownAt.length && now - state.shownAt[0] > FPS_WINDOW_MS) state.shownAt.shift();
}

function onHello(hello) {
  state.hello = hello;
  $("backend").textContent = `${hello.backend} · ${hello.attribute || "attribute"} · source: ${hello.source === "server" ? hello.source_description : "this browser's camera"}`;
  $("attr").replaceChildren(...hello.domains.map((name, index) => new Option(name, index, false, index === hello.target)));
  $("strength").min = hello.strength_range[0];
  $("strength").max = hello.strength_range[1];
  $("strength").value = hello.strength;
  $("strength-value").textContent = Number(hello.strength).toFixed(2);
  if (hello.source === "server") {
    $("start").hidden = true;
    $("camera").hidden = true;
    $("before").hidden = false;
    sendControls(); // the server sends the frame before the edit while "Before | after" is on
    state.running = true;
    requestFrames();
  } else {
    const blocked = blockedCameraReason();
    if (blocked) { showMessage(blocked); $("start").disabled = true; }
  }
}

function onText(text) {
  const message = JSON.parse(text);
  if (message.type === "hello") onHello(message);
  else if (message.type === "dropped") {
    state.inFlight.delete(message.id);
    state.dropped += 1;
    if (state.hello.source === "server") requestFrames();
  } else if (message.type === "stats") {
    state.stages = message.stages_ms;
    state.controls = message.controls;
    $("guard").textContent = message.guard || "";
    $("guard").hidden = !message.guard;
  } else if (message.type === "error") {
    state.closed = true;
    showMessage(message.reason);
  }
}

function connect() {
  const url = new URL("ws", location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  const token = new URLSearchParams(location.search).get("token");
  if (token) url.searchParams.set("token", token);
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  ws.onmessage = (event) => (typeof event.data === "string" ? onText(event.data) : onReply(event.data));
  ws.onclose = (event) => {
    state.running = false;
    const why = event.reason || (event.code === 1009 ? `a frame was over the studio's ${(state.hello?.max_message_bytes || 0) >> 20} MiB limit` : "");
    if (!state.closed) showMessage(`The studio closed the connection${why ? `: ${why}` : ""}. Reload the page to reconnect.`);
    state.closed = true;
  };
  state.ws = ws;
}

function toggleRecording() {
  if (state.recorder) { state.recorder.stop(); return; }
  const chunks = [];
  const recorder = new MediaRecorder($("edited").captureStream(30), { mimeType: "video/webm" });
  recorder.ondataavailable = (event) => event.data.size && chunks.push(event.data);
  recorder.onstop = () => {
    download(URL.createObjectURL(new Blob(chunks, { type: "video/webm" })), "l2m-studio.webm");
    state.recorder = null;
    $("record").textContent = "Record WebM";
    $("record").classList.remove("recording");
  };
  recorder.start(1000);
  state.recorder = recorder;
  $("record").textContent = "Stop recording";
  $("record").classList.add("recording");
}

function download(href, name) {
  const link = Object.assign(document.createElement("a"), { href, download: name });
  link.click();
}

function updateStatsLine() {
  const s = stats();
  if (!s.received) return;
  const stages = Object.entries(s.stages_ms).map(([name, ms]) => `${name} ${ms.toFixed(1)}`).join(" · ");
  $("stats").textContent = `${s.fps.toFixed(1)} FPS · round trip p50 ${s.rtt_p50_ms} ms, p90 ${s.rtt_p90_ms} ms · `
    + `sent ${s.sent}, back ${s.received}, dropped ${s.dropped} · server ms: ${stages}`;
}

$("start").addEventListener("click", startCamera);
for (const id of ["attr", "strength", "edit", "faces"]) $(id).addEventListener("input", sendControls);
$("compare").addEventListener("change", () => { $("before-view").hidden = !$("compare").checked; sendControls(); });
$("snapshot").addEventListener("click", () => download(snapshot(), "l2m-studio.png"));
$("record").addEventListener("click", toggleRecording);
setInterval(updateStatsLine, 500);
connect();
