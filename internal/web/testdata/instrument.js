// Injected by the browser tests before any page script runs (DevTools
// Page.addScriptToEvaluateOnNewDocument): it records what the tests check
// and the page cannot be asked about directly.
(() => {
  // Every peer connection, to read inbound RTP statistics.
  const Orig = window.RTCPeerConnection;
  window.__pcs = [];
  function Wrapped(...args) {
    const pc = new Orig(...args);
    window.__pcs.push(pc);
    return pc;
  }
  Wrapped.prototype = Orig.prototype;
  Object.setPrototypeOf(Wrapped, Orig);
  window.RTCPeerConnection = Wrapped;

  // Each screen-capture request and how it ended ('pending', 'ok' or the
  // error's name), for a failure's report.
  window.__displayMedia = [];
  const md = navigator.mediaDevices;
  if (md && md.getDisplayMedia) {
    const gdm = md.getDisplayMedia.bind(md);
    md.getDisplayMedia = (...args) => {
      const rec = { outcome: 'pending', activation: !!(navigator.userActivation && navigator.userActivation.isActive) };
      window.__displayMedia.push(rec);
      return gdm(...args).then(
        (s) => { rec.outcome = 'ok'; return s; },
        (e) => { rec.outcome = (e && e.name) || String(e); throw e; });
    };
  }

  // Signalling messages the page sends (kept: the last 200), and the
  // ICE candidates among them (the last 50).
  window.__sent = [];
  window.__candidates = [];
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    try {
      const m = JSON.parse(data);
      if (m.type !== 'ping' && m.type !== 'candidate') window.__sent.push(m.type === 'offer' || m.type === 'answer' ? { type: m.type } : m);
      if (window.__sent.length > 200) window.__sent.shift();
      if (m.type === 'candidate') window.__candidates.push(m);
      if (window.__candidates.length > 50) window.__candidates.shift();
    } catch { /* not JSON */ }
    return send.call(this, data);
  };

  // Server messages the page receives (the last 300, SDPs left out), a
  // count of each type, and every caption (the last 2000).
  window.__recv = [];
  window.__recvCount = {};
  window.__captions = [];
  const OrigWS = window.WebSocket;
  function WrappedWS(...args) {
    const ws = new OrigWS(...args);
    ws.addEventListener('message', (e) => {
      try {
        const m = JSON.parse(e.data);
        if (m.type === 'pong') return;
        window.__recvCount[m.type] = (window.__recvCount[m.type] || 0) + 1;
        if (m.type === 'caption') {
          window.__captions.push(m);
          if (window.__captions.length > 2000) window.__captions.shift();
          return; // many: they would push everything else out of __recv
        }
        if (m.sdp) m.sdp = `(${m.sdp.length} bytes)`;
        window.__recv.push(m);
        if (window.__recv.length > 300) window.__recv.shift();
      } catch { /* not JSON */ }
    });
    return ws;
  }
  WrappedWS.prototype = OrigWS.prototype;
  Object.setPrototypeOf(WrappedWS, OrigWS);
  window.WebSocket = WrappedWS;

  // Sounds the page makes (the lobby's chime): oscillators started.
  window.__oscillators = 0;
  const oscStart = OscillatorNode.prototype.start;
  OscillatorNode.prototype.start = function (...args) {
    window.__oscillators++;
    return oscStart.apply(this, args);
  };

  // Every toast the page shows (they go away after 5 s; a busy test
  // machine may look later than that).
  window.__toasts = [];
  new MutationObserver((records) => {
    for (const r of records) {
      for (const n of r.addedNodes) if (n.classList && n.classList.contains('toast')) window.__toasts.push(n.textContent);
    }
  }).observe(document, { childList: true, subtree: true });

  // Content-Security-Policy violations and uncaught errors: there must be none.
  window.__csp = [];
  document.addEventListener('securitypolicyviolation', (e) => {
    window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
  });
  window.__errors = [];
  window.addEventListener('error', (e) => window.__errors.push(`${e.message} ${e.filename}:${e.lineno}`));
  window.addEventListener('unhandledrejection', (e) => {
    const r = e.reason;
    window.__errors.push(`unhandled rejection: ${r && r.stack ? r.stack : r}`);
  });

  // __receiverOf finds the RTCRtpReceiver of a MediaStreamTrack.
  window.__receiverOf = (track) => {
    for (const pc of window.__pcs) {
      if (pc.connectionState === 'closed') continue;
      for (const r of pc.getReceivers()) if (r.track === track) return r;
    }
    return null;
  };

  // __inbound returns the bytes received so far of a participant's
  // camera video or microphone audio (-1: no such track yet).
  window.__inbound = async (participantId, kind) => {
    let track = null;
    if (kind === 'video') {
      const v = document.querySelector(`[data-participant-id="${participantId}"] video`);
      track = v && v.srcObject ? v.srcObject.getVideoTracks()[0] : null;
    } else {
      const a = document.querySelector(`#audio-sinks audio[data-owner="${participantId}"]`);
      track = a && a.srcObject ? a.srcObject.getAudioTracks()[0] : null;
    }
    const r = track && window.__receiverOf(track);
    if (!r) return -1;
    let bytes = -1;
    (await r.getStats()).forEach((s) => { if (s.type === 'inbound-rtp') bytes = s.bytesReceived; });
    return bytes;
  };

  // __rx returns the inbound-rtp statistics of a participant's camera
  // and microphone as received here (null: no such track yet).
  window.__rx = async (participantId) => {
    const out = { audio: null, video: null };
    const v = document.querySelector(`[data-participant-id="${participantId}"] video`);
    const a = document.querySelector(`#audio-sinks audio[data-owner="${participantId}"]`);
    for (const [kind, el] of [['video', v], ['audio', a]]) {
      const track = el && el.srcObject ? (kind === 'video' ? el.srcObject.getVideoTracks()[0] : el.srcObject.getAudioTracks()[0]) : null;
      const r = track && window.__receiverOf(track);
      if (!r) continue;
      const stats = await r.getStats();
      stats.forEach((s) => {
        if (s.type !== 'inbound-rtp') return;
        const codec = s.codecId && stats.get(s.codecId);
        out[kind] = {
          packetsReceived: s.packetsReceived || 0, packetsLost: s.packetsLost || 0, nackCount: s.nackCount || 0,
          retransmitted: s.retransmittedPacketsReceived || 0,
          pliCount: s.pliCount || 0, bytesReceived: s.bytesReceived || 0, codec: codec ? codec.mimeType : '',
          concealedSamples: s.concealedSamples || 0, concealmentEvents: s.concealmentEvents || 0, totalSamplesReceived: s.totalSamplesReceived || 0,
          fecPacketsReceived: s.fecPacketsReceived || 0,
          framesDecoded: s.framesDecoded || 0, frameWidth: s.frameWidth || 0, freezeCount: s.freezeCount || 0,
          totalFreezesDuration: s.totalFreezesDuration || 0, framesPerSecond: s.framesPerSecond || 0,
          jitterBufferDelay: s.jitterBufferDelay || 0, jitterBufferEmittedCount: s.jitterBufferEmittedCount || 0,
        };
      });
    }
    return out;
  };

  // __frameWidth returns the width of the frames received of a
  // participant's camera: the simulcast layer the server sends us.
  window.__frameWidth = async (participantId) => {
    const v = document.querySelector(`[data-participant-id="${participantId}"] video`);
    const track = v && v.srcObject ? v.srcObject.getVideoTracks()[0] : null;
    const r = track && window.__receiverOf(track);
    if (!r) return -1;
    let w = 0;
    (await r.getStats()).forEach((s) => { if (s.type === 'inbound-rtp') w = s.frameWidth || 0; });
    return w;
  };

  // __tile describes the tile of a participant, found by id or by name.
  window.__tile = (key) => {
    let tile = document.querySelector(`#grid [data-participant-id="${key}"]`);
    if (!tile) {
      for (const n of document.querySelectorAll('#grid [data-participant-name]')) {
        if (n.textContent === key) tile = n.closest('[data-participant-id]');
      }
    }
    if (!tile) return null;
    const v = tile.querySelector('video');
    const r = tile.getBoundingClientRect();
    return {
      id: tile.dataset.participantId,
      name: tile.querySelector('[data-participant-name]').textContent,
      hidden: tile.hidden,
      videoWidth: v ? v.videoWidth : 0,
      currentTime: v ? v.currentTime : 0,
      paused: v ? v.paused : true,
      audioMuted: tile.hasAttribute('data-audio-muted'),
      videoOff: tile.hasAttribute('data-video-off'),
      hand: tile.hasAttribute('data-hand-raised'),
      micIconVisible: !tile.querySelector('.tile__mic').hidden,
      handIconVisible: !tile.querySelector('.tile__hand').hidden,
      width: r.width,
      height: r.height,
    };
  };
})();
