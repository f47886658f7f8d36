// The signalling WebSocket (docs/protocol.md): JSON messages with a
// `type`, an application-level ping to notice a dead connection, and a
// 'close' event when the socket goes away without us closing it.

// A socket silent for this long is dead: we ping every PING_MS and the
// server answers at once, so three missed pongs mean the path is gone
// (a dead TCP connection can otherwise take minutes to be noticed).
const PING_MS = 5_000;
const DEAD_MS = 15_000;
// When the media connections stall, the socket is checked at once: a
// ping unanswered this long and it is dropped (our address changed: the
// old connection is dead, and only a new one resumes the session).
const PROBE_MS = 1_500;

export function socketURL(loc = window.location) {
  const scheme = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${loc.host}/ws`;
}

export class Signalling extends EventTarget {
  constructor(url = socketURL()) {
    super();
    this.url = url;
    this.ws = null;
    this.lastSeen = 0;
    this.timer = null;
    this.probeTimer = null;
    this.rtt = null;
  }

  get isOpen() { return !!this.ws && this.ws.readyState === WebSocket.OPEN; }

  // open connects; it resolves when the socket is open and rejects when
  // it cannot be opened.
  open() {
    this.detach();
    return new Promise((resolve, reject) => {
      let ws;
      try {
        ws = new WebSocket(this.url);
      } catch (err) {
        reject(err);
        return;
      }
      this.ws = ws;
      let opened = false;
      ws.onopen = () => {
        opened = true;
        this.lastSeen = performance.now();
        this.startPing();
        resolve();
      };
      ws.onmessage = (e) => {
        this.lastSeen = performance.now();
        let msg;
        try {
          msg = JSON.parse(e.data);
        } catch {
          console.warn('signalling: not JSON', e.data);
          return;
        }
        if (!msg || typeof msg.type !== 'string') return;
        if (msg.type === 'pong') {
          if (typeof msg.ts === 'number') this.rtt = Date.now() - msg.ts;
          return;
        }
        this.dispatchEvent(new CustomEvent('message', { detail: msg }));
      };
      ws.onerror = () => {};
      ws.onclose = (e) => {
        if (this.ws !== ws) return; // replaced or closed by us
        this.stopPing();
        this.ws = null;
        if (!opened) {
          reject(new Error(`socket closed before opening (${e.code})`));
          return;
        }
        this.dispatchEvent(new CustomEvent('close', { detail: { code: e.code, reason: e.reason } }));
      };
    });
  }

  send(msg) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify(msg));
    return true;
  }

  // probe checks the socket now: a ping, and the socket is dropped when
  // nothing arrives within PROBE_MS, rather than after DEAD_MS.
  probe() {
    if (!this.isOpen || this.probeTimer) return;
    const sent = performance.now();
    this.probeTimer = setTimeout(() => {
      this.probeTimer = null;
      if (this.lastSeen < sent) this.drop();
    }, PROBE_MS);
    this.send({ type: 'ping', ts: Date.now() });
  }

  // close ends the socket on purpose: no 'close' event follows.
  close() { this.detach(); }

  // drop treats the socket as lost, as when the network goes away.
  drop() {
    const ws = this.ws;
    if (!ws) return;
    this.detach();
    this.dispatchEvent(new CustomEvent('close', { detail: { code: 4999, reason: 'dead connection' } }));
  }

  detach() {
    this.stopPing();
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = null;
      try { ws.close(1000); } catch { /* already closed */ }
    }
  }

  startPing() {
    this.stopPing();
    this.timer = setInterval(() => {
      if (performance.now() - this.lastSeen > DEAD_MS) {
        this.drop();
        return;
      }
      this.send({ type: 'ping', ts: Date.now() });
    }, PING_MS);
  }

  stopPing() {
    if (this.timer) clearInterval(this.timer);
    clearTimeout(this.probeTimer);
    this.timer = this.probeTimer = null;
  }
}
