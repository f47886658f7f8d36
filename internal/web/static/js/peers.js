// The two peer connections of a participant (docs/protocol.md):
// the publisher, where the browser offers and sends its camera,
// microphone and screen; and the subscriber, where the server offers
// everyone else's tracks and the browser answers.

// Simulcast layers of the camera, low to high, as the protocol names
// them (rids q/h/f). Bitrates follow the usual 1:3:10 ladder for
// 320x180 / 640x360 / 1280x720; the server picks a layer per receiver.
export const SIMULCAST = [
  { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150_000 },
  { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { rid: 'f', scaleResolutionDownBy: 1, maxBitrate: 1_500_000 },
];

// The screen share: one encoding, ahead of the camera when the uplink is
// short (browsers split bandwidth by priority, and pause a stream whose
// share falls under its minimum: a paused screen is a presentation
// nobody sees), text kept sharp by dropping frames rather than pixels.
const SCREEN = { maxBitrate: 2_500_000, priority: 'high', networkPriority: 'high' };

// An offer unanswered this long is abandoned (the socket dropped, or the
// server is gone); the next negotiation starts over.
const ANSWER_TIMEOUT_MS = 10_000;

function rtcConfig(iceServers) {
  const cfg = { bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' };
  // Parley gives no STUN/TURN by default (nothing leaves the organisation),
  // so the browser contacts no third party either. When the server runs
  // its TURN relay, an entry carries this participant's credentials.
  cfg.iceServers = Array.isArray(iceServers) ? iceServers.filter((s) => s && Array.isArray(s.urls)) : [];
  return cfg;
}

// msidByMid reads the msid track id of each m-line: the id the server
// keys a published track by (client_track_id). Browsers do not always use
// MediaStreamTrack.id there, so it is read from the SDP they wrote.
export function msidByMid(sdp) {
  const out = new Map();
  let mid = null;
  let msid = null;
  const flush = () => { if (mid !== null && msid) out.set(mid, msid); };
  for (const line of sdp.split(/\r?\n/)) {
    if (line.startsWith('m=')) {
      flush();
      mid = null;
      msid = null;
    } else if (line.startsWith('a=mid:')) {
      mid = line.slice(6).trim();
    } else if (line.startsWith('a=msid:')) {
      const parts = line.slice(7).trim().split(' ');
      if (parts.length > 1) msid = parts[1];
    }
  }
  flush();
  return out;
}

// Candidates of one connection wait until its description has gone out:
// the server rejects a candidate that arrives before it (error 4010).
class Trickle {
  constructor(sig, target) {
    this.sig = sig;
    this.target = target;
    this.ready = false;
    this.queue = [];
  }
  add(c) {
    if (!c) return;
    const m = { type: 'candidate', target: this.target, candidate: c.toJSON() };
    if (this.ready) this.sig.send(m);
    else this.queue.push(m);
  }
  described() {
    this.ready = true;
    for (const m of this.queue.splice(0)) this.sig.send(m);
  }
  reset() {
    this.ready = false;
  }
}

// Publication is one local track we send.
class Publication {
  constructor(track, source, simulcast, extra) {
    this.track = track;
    this.kind = track.kind;
    this.source = source;
    this.simulcast = simulcast;
    this.transceiver = null;
    this.clientTrackId = null; // known after the first offer
    this.announced = false;
    this.serverId = null; // from `published`
    this.muted = false;
    this.extra = extra; // more fields of its `publish` (shared_mic, speakers)
  }
}

export class Publisher extends EventTarget {
  constructor(sig, iceServers) {
    super();
    this.sig = sig;
    this.pc = new RTCPeerConnection(rtcConfig(iceServers));
    this.trickle = new Trickle(sig, 'publisher');
    this.pubs = [];
    this.running = false;
    this.needed = false;
    this.restart = false;
    this.refSeq = 0;
    this.pending = null; // {ref, resolve, reject, timer}
    this.pc.onicecandidate = (e) => this.trickle.add(e.candidate);
    this.pc.onconnectionstatechange = () => this.dispatchEvent(new Event('connectionstatechange'));
  }

  get state() { return this.pc.connectionState; }

  // add starts sending a track; the offer follows.
  add(track, source, { simulcast = false, extra = {} } = {}) {
    const p = new Publication(track, source, simulcast, extra);
    const init = { direction: 'sendonly', streams: [new MediaStream([track])] };
    if (simulcast) init.sendEncodings = SIMULCAST.map((e) => ({ ...e }));
    else if (source === 'screen') init.sendEncodings = [SCREEN];
    else if (track.kind === 'video') init.sendEncodings = [{ maxBitrate: 2_500_000 }];
    p.transceiver = this.pc.addTransceiver(track, init);
    if (track.kind === 'video') preferCodecs(p.transceiver);
    else preferRED(p.transceiver);
    this.pubs.push(p);
    this.negotiate();
    return p;
  }

  // remove stops sending a publication (the caller sent `unpublish`).
  remove(p) {
    this.pubs = this.pubs.filter((x) => x !== p);
    try {
      this.pc.removeTrack(p.transceiver.sender);
    } catch { /* connection closed */ }
    this.negotiate();
  }

  bySource(source) { return this.pubs.find((p) => p.source === source); }

  // negotiate sends an offer and applies the answer; calls made meanwhile
  // are folded into one more round, so offers never overlap.
  async negotiate({ iceRestart = false } = {}) {
    this.needed = true;
    this.restart ||= iceRestart;
    if (this.running) return;
    this.running = true;
    try {
      while (this.needed && this.pc.signalingState !== 'closed') {
        if (!this.sig.isOpen) return; // resumed after reconnection
        this.needed = false;
        const restart = this.restart;
        this.restart = false;
        await this.round(restart);
      }
    } catch (err) {
      console.warn('publisher negotiation failed', err);
      if (this.pc.signalingState === 'have-local-offer') {
        await this.pc.setLocalDescription({ type: 'rollback' }).catch(() => {});
      }
      this.needed = true; // retried on the next negotiate (e.g. after a reconnection)
    } finally {
      this.running = false;
    }
  }

  async round(iceRestart) {
    const offer = await this.pc.createOffer({ iceRestart });
    await this.pc.setLocalDescription(offer);
    const sdp = this.pc.localDescription.sdp;
    const msids = msidByMid(sdp);
    // Announce new tracks before the offer that carries them.
    for (const p of this.pubs) {
      const mid = p.transceiver.mid;
      if (p.announced || mid === null || !msids.has(mid)) continue;
      p.clientTrackId = msids.get(mid);
      p.announced = true;
      const m = { ...p.extra, type: 'publish', client_track_id: p.clientTrackId, kind: p.kind, source: p.source };
      if (p.simulcast) m.simulcast = SIMULCAST.map((e) => e.rid);
      this.sig.send(m);
    }
    const ref = `offer-${++this.refSeq}`;
    const answer = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no answer')), ANSWER_TIMEOUT_MS);
      this.pending = { ref, resolve, reject, timer };
    });
    this.trickle.reset();
    this.sig.send({ type: 'offer', sdp, ref });
    this.trickle.described();
    const sdpAnswer = await answer;
    await this.pc.setRemoteDescription({ type: 'answer', sdp: sdpAnswer });
    for (const p of this.pubs) {
      if (p.source === 'screen') setDegradation(p.transceiver.sender, 'maintain-resolution');
    }
    this.dispatchEvent(new Event('negotiated'));
  }

  // handleAnswer is the server's `answer` to our offer.
  handleAnswer(msg) {
    const p = this.pending;
    if (!p || (msg.ref && msg.ref !== p.ref)) return;
    clearTimeout(p.timer);
    this.pending = null;
    p.resolve(msg.sdp);
  }

  // handleError fails the offer an `error` refers to.
  handleError(msg) {
    const p = this.pending;
    if (!p || msg.ref !== p.ref) return false;
    clearTimeout(p.timer);
    this.pending = null;
    p.reject(new Error(`${msg.name}: ${msg.message}`));
    return true;
  }

  // socketLost fails an offer in flight: its answer will never come.
  socketLost() {
    const p = this.pending;
    if (!p) return;
    clearTimeout(p.timer);
    this.pending = null;
    p.reject(new Error('signalling socket lost'));
  }

  // resync after a resumed session: a round cut short is redone.
  resync() {
    if (this.needed || this.pc.signalingState !== 'stable') this.negotiate();
  }

  restartIce() {
    if (this.pubs.length === 0 && !this.pc.remoteDescription) return;
    this.negotiate({ iceRestart: true });
  }

  close() {
    this.socketLost();
    this.pc.close();
  }
}

function setDegradation(sender, preference) {
  const params = sender.getParameters();
  if (!params.encodings || params.degradationPreference === preference) return;
  params.degradationPreference = preference;
  sender.setParameters(params).catch(() => {}); // not every browser has it
}

// setLayers turns each simulcast layer of a sender on or off: on when
// send(rid) says so. A layer turned on again starts with a keyframe.
export async function setLayers(sender, send) {
  const params = sender.getParameters();
  if (!params.encodings || params.encodings.length < 2) return;
  let changed = false;
  for (const e of params.encodings) {
    if (!e.rid || e.active === send(e.rid)) continue;
    e.active = !e.active;
    changed = true;
  }
  if (!changed) return;
  try {
    await sender.setParameters(params);
  } catch (err) {
    console.warn('camera layers', err);
  }
}

// preferCodecs puts VP8 first: the server forwards VP8 and H.264, and VP8
// simulcast works in every browser's software encoder.
function preferCodecs(transceiver) {
  if (!transceiver.setCodecPreferences || !RTCRtpSender.getCapabilities) return;
  const caps = RTCRtpSender.getCapabilities('video');
  if (!caps) return;
  const rank = (c) => {
    const m = c.mimeType.toLowerCase();
    if (m === 'video/vp8') return 0;
    if (m === 'video/h264') return 1;
    if (m === 'video/rtx' || m === 'video/red' || m === 'video/ulpfec' || m === 'video/flexfec-03') return 2;
    return 3;
  };
  const codecs = caps.codecs.filter((c) => rank(c) < 3).sort((a, b) => rank(a) - rank(b));
  try {
    transceiver.setCodecPreferences(codecs);
  } catch (err) {
    console.warn('codec preferences', err);
  }
}

// preferRED asks to send audio as RED (RFC 2198: each packet also carries
// the two frames before it), where the browser can: a frame lost on the
// uplink is then recovered by the server from the next packet. Browsers
// send the first codec of the answer, which follows this order.
function preferRED(transceiver) {
  if (!transceiver.setCodecPreferences || !RTCRtpSender.getCapabilities) return;
  const caps = RTCRtpSender.getCapabilities('audio');
  if (!caps || !caps.codecs.some((c) => c.mimeType.toLowerCase() === 'audio/red')) return;
  const rank = (c) => ({ 'audio/red': 0, 'audio/opus': 1 })[c.mimeType.toLowerCase()] ?? 2;
  try {
    transceiver.setCodecPreferences([...caps.codecs].sort((a, b) => rank(a) - rank(b)));
  } catch (err) {
    console.warn('codec preferences', err);
  }
}

// Subscriber answers the server's offers and keeps the map from the
// server's track ids to the MediaStreamTracks that carry them.
export class Subscriber extends EventTarget {
  constructor(sig, iceServers) {
    super();
    this.sig = sig;
    this.pc = new RTCPeerConnection(rtcConfig(iceServers));
    this.trickle = new Trickle(sig, 'subscriber');
    this.chain = Promise.resolve();
    this.tracks = new Map(); // server track id → {track, receiver}
    this.pc.onicecandidate = (e) => this.trickle.add(e.candidate);
    this.pc.onconnectionstatechange = () => this.dispatchEvent(new Event('connectionstatechange'));
  }

  get state() { return this.pc.connectionState; }

  handleOffer(msg) {
    this.chain = this.chain.then(() => this.answer(msg)).catch((err) => {
      console.warn('subscriber offer failed', err);
      // Ask for a fresh offer rather than stay without media.
      this.sig.send({ type: 'ice_restart' });
    });
    return this.chain;
  }

  async answer({ sdp, mids }) {
    if (this.pc.signalingState === 'closed') return;
    await this.pc.setRemoteDescription({ type: 'offer', sdp });
    const answer = await this.pc.createAnswer();
    await this.pc.setLocalDescription(answer);
    this.trickle.reset();
    this.sig.send({ type: 'answer', sdp: this.pc.localDescription.sdp });
    this.trickle.described();
    this.remap(mids || {});
  }

  // remap rebuilds trackId → MediaStreamTrack from the offer's mids: the
  // same transceiver may carry another track after a renegotiation.
  remap(mids) {
    const next = new Map();
    for (const t of this.pc.getTransceivers()) {
      const id = t.mid !== null ? mids[t.mid] : undefined;
      if (id && t.receiver && t.receiver.track) next.set(id, { track: t.receiver.track, receiver: t.receiver });
    }
    const added = [];
    const removed = [];
    for (const [id, v] of next) {
      const old = this.tracks.get(id);
      if (!old || old.track !== v.track) added.push(id);
    }
    for (const id of this.tracks.keys()) if (!next.has(id)) removed.push(id);
    this.tracks = next;
    if (added.length || removed.length) {
      this.dispatchEvent(new CustomEvent('tracks', { detail: { added, removed } }));
    }
  }

  track(id) { return this.tracks.get(id)?.track || null; }
  receiver(id) { return this.tracks.get(id)?.receiver || null; }

  restartIce() { this.sig.send({ type: 'ice_restart' }); }

  close() { this.pc.close(); }
}
