// AudioSinks plays everyone's microphone and screen audio, one <audio>
// element per received track, on the speaker the user picked. Audio is
// never paused with the video of off-screen tiles: people off the page
// are still heard.

import { $ } from './dom.js';

export class AudioSinks extends EventTarget {
  constructor(room, media) {
    super();
    this.room = room;
    this.media = media;
    this.root = $('#audio-sinks');
    this.sinks = new Map(); // track id → <audio>
    this.blocked = false;
    room.addEventListener('tracks', () => this.sync());
    room.addEventListener('participants', () => this.sync());
    media.addEventListener('device', (e) => { if (e.detail.kind === 'audiooutput') this.applySink(); });
  }

  sync() {
    const want = new Map();
    for (const t of this.room.tracks.values()) {
      if (t.kind !== 'audio' || t.participant_id === this.room.selfId) continue;
      const track = this.room.remoteTrack(t.id);
      if (track) want.set(t.id, track);
    }
    for (const [id, a] of this.sinks) {
      if (!want.has(id) || a.srcObject.getTracks()[0] !== want.get(id)) {
        a.srcObject = null;
        a.remove();
        this.sinks.delete(id);
      }
    }
    for (const [id, track] of want) {
      if (this.sinks.has(id)) continue;
      const a = document.createElement('audio');
      a.autoplay = true;
      a.dataset.trackId = id;
      a.dataset.owner = this.room.tracks.get(id).participant_id;
      a.srcObject = new MediaStream([track]);
      this.root.append(a);
      this.sinks.set(id, a);
      this.setSink(a);
      this.play(a);
    }
  }

  play(a) {
    a.play().then(() => this.setBlocked(false)).catch((err) => {
      // Autoplay policy: sound needs a click on the page first.
      if (err && err.name === 'NotAllowedError') this.setBlocked(true);
    });
  }

  setBlocked(b) {
    if (this.blocked === b) return;
    this.blocked = b;
    this.dispatchEvent(new Event('blocked'));
  }

  // resume retries playback after a user gesture.
  resume() {
    for (const a of this.sinks.values()) this.play(a);
  }

  applySink() { for (const a of this.sinks.values()) this.setSink(a); }

  setSink(a) {
    const id = this.media.choice.audiooutput;
    if (id && typeof a.setSinkId === 'function') {
      a.setSinkId(id).catch((err) => console.warn('speaker', err));
    }
  }

  close() {
    for (const a of this.sinks.values()) {
      a.srcObject = null;
      a.remove();
    }
    this.sinks.clear();
  }
}
