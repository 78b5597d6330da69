// Zero-install capture: microphone (and camera) → WHIP → contactd, with
// arrive/leave buttons on the "events" data channel.
(function () {
  "use strict";
  const station = document.body.dataset.station;
  const dict = JSON.parse(document.body.dataset.i18n || "{}");
  const t = (k) => dict[k] || k;
  const $ = (id) => document.getElementById(id);
  const state = (text, cls) => { const s = $("state"); s.textContent = text; s.className = "state " + (cls || ""); };
  let pc = null, events = null, location = null, token = null, recording = true;

  function tokenFromPage() {
    const h = new URLSearchParams(window.location.hash.slice(1));
    return h.get("token") || sessionStorage.getItem("contactd-token-" + station);
  }

  async function start(tok) {
    token = tok;
    sessionStorage.setItem("contactd-token-" + station, tok);
    $("login").hidden = true;
    state(t('capture_asking'));
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: false }, video: { width: 640, height: 480 } });
    } catch (e) {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true }); // no camera: audio only
    }
    $("preview").srcObject = stream;
    pc = new RTCPeerConnection();
    for (const track of stream.getTracks()) pc.addTransceiver(track, { direction: "sendonly", streams: [stream] });
    events = pc.createDataChannel("events");
    events.onmessage = (m) => {
      let msg = {};
      try { msg = JSON.parse(m.data); } catch (e) { /* not JSON: shown as is */ }
      if (msg.type === "recording") {
        // The room's consent: outside its bookings nothing is recorded.
        recording = msg.recording;
        state(recording ? t('capture_recording') : t('capture_paused'), recording ? "live" : "paused");
        return;
      }
      $("last").textContent = t('capture_server') + ": " + m.data;
    };
    pc.onconnectionstatechange = () => {
      const s = pc.connectionState;
      if (s === "connected") state(recording ? t('capture_recording') : t('capture_paused'), recording ? "live" : "paused");
      else if (s === "failed" || s === "disconnected") { state(t('capture_lost'), "error"); setTimeout(restart, 2000); }
      else state(s);
    };
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise((resolve) => {
      if (pc.iceGatheringState === "complete") return resolve();
      pc.onicegatheringstatechange = () => { if (pc.iceGatheringState === "complete") resolve(); };
      setTimeout(resolve, 3000);
    });
    const resp = await fetch("/whip/" + encodeURIComponent(station), {
      method: "POST", headers: { "Content-Type": "application/sdp", "Authorization": "Bearer " + token },
      body: pc.localDescription.sdp,
    });
    if (resp.status !== 201) {
      state(t('capture_refused') + ": " + resp.status + " " + (await resp.text()), "error");
      if (resp.status === 401) { sessionStorage.removeItem("contactd-token-" + station); $("login").hidden = false; }
      return;
    }
    location = resp.headers.get("Location");
    await pc.setRemoteDescription({ type: "answer", sdp: await resp.text() });
    $("controls").hidden = false;
  }

  async function stop() {
    if (location) await fetch(location, { method: "DELETE", headers: { "Authorization": "Bearer " + token } }).catch(() => {});
    if (pc) pc.close();
    pc = null; location = null;
    state(t('capture_stopped'));
  }

  async function restart() { await stop(); start(token).catch((e) => state(String(e), "error")); }

  function send(type) {
    if (!events || events.readyState !== "open") { $("last").textContent = t('capture_not_sent') + " (" + type + ")"; return; }
    const at = new Date().toISOString();
    events.send(JSON.stringify({ type: type, at: at }));
    $("last").textContent = t('capture_sent_' + type) + " · " + new Date(at).toLocaleTimeString(document.documentElement.lang);
  }

  $("arrive").addEventListener("click", () => send("arrive"));
  $("leave").addEventListener("click", () => send("leave"));
  $("stop").addEventListener("click", stop);
  $("login").addEventListener("submit", (e) => { e.preventDefault(); start($("token").value).catch((err) => state(String(err), "error")); });
  window.contactd = { send: send, state: () => (pc ? pc.connectionState : "none") };

  const tok = tokenFromPage();
  if (tok) start(tok).catch((e) => state(String(e), "error"));
  else $("login").hidden = false;
})();
