// QualityMonitor reads WebRTC statistics every two seconds and gives:
//  - repair headroom: while a received video stream needs repairs (we
//    NACK lost packets), its jitter buffer holds frames long enough for
//    a lost packet to be sent again on both hops (the publisher's to the server and ours), so a repair arrives
//    before its frame is due instead of freezing the picture
//    (repairHeadroom);
//  - a connection quality per received track (good / fair / poor), shown
//    on each tile, and one for our own uplink, shown on our tile;
//  - a layer cap: when what we receive degrades (packet loss, rising
//    round-trip time: the signs of a link that no longer carries the
//    bitrate), every tile asks a lower simulcast layer; when it has been
//    clean for a while the cap rises again. The server does the same from
//    its own bandwidth estimate (REMB); asking first keeps a weak link
//    from stalling while it finds out.

const INTERVAL_MS = 2_000;
// Loss and jitter bounds of the levels, after ITU-T G.1010-style targets
// for interactive video: under 2 % loss and 30 ms jitter nobody notices;
// past 8 % or 100 ms freezes and robot voices start.
const GOOD_LOSS = 0.02;
const FAIR_LOSS = 0.08;
const GOOD_JITTER_S = 0.03;
const FAIR_JITTER_S = 0.1;
// The cap drops after two bad samples in a row (4 s: one lost burst is
// not a trend) and rises after 10 clean samples (20 s, so it does not
// oscillate around the link's limit).
const CAP_DOWN_AFTER = 2;
const CAP_UP_AFTER = 10;
const BAD_LOSS = 0.05;
const BAD_RTT_S = 0.4;
const LAYERS = ['low', 'medium', 'high'];

// A lost packet comes back a round trip later on the hop that lost it:
// twice ours covers the publisher's hop too (about as far from the
// server as we are), plus the server's and the browser's reaction time.
// A freeze despite the headroom (a repair lost again, in a burst) adds
// HEADROOM_STEP_MS, up to HEADROOM_MAX_MS; a freeze alone starts none (a
// busy machine freezes video on a clean link too). The headroom stays
// HEADROOM_HOLD_MS after the last NACK, so that it does not come and go
// with each loss. Audio waits for video (lip sync): the headroom delays
// both, only while repairs go on.
const HEADROOM_EXTRA_MS = 50;
const HEADROOM_MIN_MS = 100;
const HEADROOM_STEP_MS = 100;
const HEADROOM_MAX_MS = 400;
const HEADROOM_HOLD_MS = 20_000;

// repairHeadroom gives a received video stream's jitter buffer target in
// ms (0: the browser's own choice) from its last state ({target, last}),
// the NACKs sent and freezes seen since the last sample, our round trip
// (ms) and the time (ms).
export function repairHeadroom(prev, nacks, freezes, rttMs, now) {
  const st = prev || { target: 0, last: -Infinity };
  let { target, last } = st;
  if (nacks > 0) {
    const want = Math.min(HEADROOM_MAX_MS, Math.max(HEADROOM_MIN_MS, 2 * rttMs + HEADROOM_EXTRA_MS));
    target = Math.max(target, Math.round(want));
    last = now;
  } else if (now - last >= HEADROOM_HOLD_MS) {
    return { target: 0, last };
  }
  if (freezes > 0 && st.target > 0) target = Math.min(HEADROOM_MAX_MS, Math.max(target, st.target + HEADROOM_STEP_MS));
  return { target, last };
}

export function levelOf(loss, jitter) {
  if (loss < GOOD_LOSS && jitter < GOOD_JITTER_S) return 'good';
  if (loss < FAIR_LOSS && jitter < FAIR_JITTER_S) return 'fair';
  return 'poor';
}

// deltaOf gives the packets lost and received between two samples of a
// stream's counters. Counters that went backwards started over (Firefox
// restarts the statistics of the streams it receives when the
// connection is renegotiated, e.g. someone joins): no verdict then
// (restarted), rather than a false "nothing received".
export function deltaOf(prev, cur) {
  if (!prev || cur.lost < prev.lost || cur.received < prev.received) return { lost: 0, received: 0, restarted: true };
  return { lost: cur.lost - prev.lost, received: cur.received - prev.received, restarted: false };
}

export class QualityMonitor extends EventTarget {
  constructor(room) {
    super();
    this.room = room;
    this.prev = new Map(); // track id → {lost, received}
    this.levels = new Map(); // track id → level
    this.headroom = new Map(); // video track id → repairHeadroom state
    this.self = 'unknown';
    this.cap = 'high';
    this.bad = 0;
    this.good = 0;
    this.busy = false;
    this.timer = setInterval(() => this.sample(), INTERVAL_MS);
  }

  async sample() {
    if (this.busy || !this.room.sub) return;
    this.busy = true;
    try {
      await this.sampleReceived();
      await this.sampleSent();
      this.dispatchEvent(new Event('change'));
    } catch (err) {
      console.warn('stats', err);
    } finally {
      this.busy = false;
    }
  }

  async sampleReceived() {
    const r = this.room;
    let lost = 0;
    let received = 0;
    const seen = new Set();
    let rtt = 0;
    const transport = await r.sub.pc.getStats();
    transport.forEach((x) => {
      if (x.type === 'candidate-pair' && x.nominated && x.state === 'succeeded' && x.currentRoundTripTime) rtt = x.currentRoundTripTime;
    });
    for (const t of r.tracks.values()) {
      if (t.participant_id === r.selfId) continue;
      const recv = r.remoteReceiver(t.id);
      if (!recv) continue;
      seen.add(t.id);
      const report = await recv.getStats();
      let s = null;
      report.forEach((x) => { if (x.type === 'inbound-rtp') s = x; });
      if (!s) continue;
      const cur = { lost: Math.max(0, s.packetsLost || 0), received: s.packetsReceived || 0, nacks: s.nackCount || 0, freezes: s.freezeCount || 0 };
      const p = this.prev.get(t.id);
      const d = deltaOf(p, cur);
      this.prev.set(t.id, cur);
      if (t.kind === 'video' && !d.restarted) this.adjustHeadroom(t.id, recv, cur.nacks - p.nacks, cur.freezes - p.freezes, rtt);
      if (d.restarted) {
        if (!this.levels.has(t.id)) this.levels.set(t.id, 'unknown'); // first sample; else the last verdict stands
        continue;
      }
      const dl = d.lost;
      const dr = d.received;
      if (dr === 0) {
        this.levels.set(t.id, 'unknown'); // paused, muted or silent
        continue;
      }
      const loss = dl / (dl + dr);
      this.levels.set(t.id, levelOf(loss, s.jitter || 0));
      if (t.kind === 'video') {
        lost += dl;
        received += dr;
      }
    }
    for (const id of this.levels.keys()) {
      if (!seen.has(id)) {
        this.levels.delete(id);
        this.prev.delete(id);
        this.headroom.delete(id);
      }
    }
    this.adjustCap(received > 0 ? lost / (lost + received) : 0, rtt);
  }

  adjustHeadroom(id, recv, nacks, freezes, rtt) {
    const before = this.headroom.get(id);
    const st = repairHeadroom(before, Math.max(0, nacks), Math.max(0, freezes), rtt * 1000, performance.now());
    this.headroom.set(id, st);
    if (st.target === (before ? before.target : 0)) return;
    // Chrome and Firefox take jitterBufferTarget (ms; null: their own).
    recv.jitterBufferTarget = st.target || null;
    console.info(`video ${id}: jitter buffer target ${st.target || 'default'} ms (${nacks} NACKs, ${freezes} freezes, rtt ${Math.round(rtt * 1000)} ms)`);
  }

  adjustCap(loss, rtt) {
    const bad = loss > BAD_LOSS || rtt > BAD_RTT_S;
    const before = this.cap;
    if (bad) {
      this.good = 0;
      if (++this.bad >= CAP_DOWN_AFTER) {
        this.bad = 0;
        this.cap = LAYERS[Math.max(0, LAYERS.indexOf(this.cap) - 1)];
      }
    } else {
      this.bad = 0;
      if (++this.good >= CAP_UP_AFTER) {
        this.good = 0;
        this.cap = LAYERS[Math.min(LAYERS.length - 1, LAYERS.indexOf(this.cap) + 1)];
      }
    }
    if (this.cap !== before) {
      console.info(`video layers capped at ${this.cap} (loss ${(loss * 100).toFixed(1)} %, rtt ${Math.round(rtt * 1000)} ms)`);
    }
  }

  // sampleSent rates our uplink from the server's receiver reports.
  async sampleSent() {
    const pub = this.room.pub;
    if (!pub || pub.pubs.length === 0) {
      this.self = 'unknown';
      return;
    }
    const report = await pub.pc.getStats();
    let worstLoss = 0;
    let jitter = 0;
    let any = false;
    let limited = false;
    report.forEach((x) => {
      if (x.type === 'remote-inbound-rtp') {
        any = true;
        worstLoss = Math.max(worstLoss, x.fractionLost || 0);
        jitter = Math.max(jitter, x.jitter || 0);
      }
      if (x.type === 'outbound-rtp' && x.qualityLimitationReason === 'bandwidth') limited = true;
    });
    if (!any) {
      this.self = 'unknown';
      return;
    }
    let level = levelOf(worstLoss, jitter);
    if (limited && level === 'good') level = 'fair';
    this.self = level;
  }

  // levelOf gives the level to show on a tile entry (see Stage.entries):
  // its video's when it receives video, else its audio's.
  levelOf(entry) {
    if (entry.self) return entry.kind === 'camera' ? this.self : 'unknown';
    const tracks = this.room.tracksOf(entry.participantId);
    const video = entry.kind === 'screen' ? tracks.screen : tracks.camera;
    const audio = tracks.microphone;
    const v = video && this.levels.get(video.id);
    if (v && v !== 'unknown') return v;
    const a = audio && this.levels.get(audio.id);
    return a || 'unknown';
  }

  close() { clearInterval(this.timer); }
}
