// Live captions: the last few lines of what is said in the meeting, each
// with its speaker's name, over the bottom of the stage (#captions). The
// server sends `caption` messages while the meeting is transcribed: a
// partial hypothesis while someone speaks, replaced by later captions of
// the same speaker and start, then the final text (docs/protocol.md).
//
// Partials are drawn for the eyes only (aria-hidden): a screen reader
// would otherwise read every word several times. Each final line is a
// fresh element in the polite live region, so it is read once, with the
// speaker's name. Names and text are only ever set with textContent.
//
// The participant can hide the captions (#captions-toggle, key L); the
// server then stops sending them to this browser. The choice is
// remembered.

import { $, el, setButton } from './dom.js';
import { t, onLanguage } from './i18n.js';
import { State } from './room.js';
import { store } from './storage.js';

// Three lines are what subtitles show (EBU-TT-D allows two or three):
// more hides the faces below them.
export const MAX_LINES = 3;
// A final line stays this long after its last word unless newer lines
// push it out: long enough to read two lines at ~180 words a minute.
const LINGER_MS = 8_000;
// A partial not updated for this long lost its final (the server always
// sends one, possibly empty; this only guards against a lost socket).
const STALE_PARTIAL_MS = 20_000;

// applyCaption merges one caption message into lines (ordered by start
// time) and returns the new list; lines are {key, speakerId, name, text,
// final, start, end, at}. A partial replaces the line of the same speaker
// and start. A final replaces that line too, and every partial of its
// speaker that began before the final's end: the server dates a final
// from its first recognised word, a little after the start its partials
// carried (by 0.1-0.3 s here), while the speaker's next utterance only
// begins after this one ended. An empty final withdraws the partial.
// Only the newest max lines are kept.
export function applyCaption(lines, c, now, max = MAX_LINES) {
  const speakerId = String(c.speaker_id);
  const start = Number(c.start) || 0;
  const end = Number(c.end) || start;
  const key = `${speakerId}|${start.toFixed(3)}`;
  const text = String(c.text || '').trim();
  const out = lines.filter((l) => l.key !== key && !(c.final && l.speakerId === speakerId && !l.final && l.start < end));
  if (!text) return out;
  out.push({ key, speakerId, name: String(c.speaker_name || ''), text, final: !!c.final, start, end, at: now });
  out.sort((a, b) => a.start - b.start);
  while (out.length > max) out.shift();
  return out;
}

// expireLines drops final lines shown long enough and partials whose
// final never came.
export function expireLines(lines, now) {
  return lines.filter((l) => now - l.at < (l.final ? LINGER_MS : STALE_PARTIAL_MS));
}

export class Captions {
  constructor(room) {
    this.room = room;
    this.area = $('#captions');
    this.list = $('#captions-list');
    this.toggle = $('#captions-toggle');
    this.lines = [];
    this.nodes = new Map(); // line key → {li, final}
    this.timer = setInterval(() => this.expire(), 1_000);

    this.toggle.addEventListener('click', () => this.set(!room.captionsOn));
    room.addEventListener('caption', (e) => this.onCaption(e.detail));
    room.addEventListener('transcription', () => {
      if (!room.transcription.enabled) this.lines = [];
      this.label();
      this.render();
    });
    room.addEventListener('captions', () => {
      this.label();
      this.render();
    });
    room.addEventListener('state', (e) => {
      if (e.detail.state === State.ENDED) clearInterval(this.timer);
    });
    onLanguage(() => this.label());
    this.label();
    this.render();
  }

  // set shows or hides the captions; hidden, the server stops sending them.
  set(on) {
    store.set('captions', on);
    this.room.setCaptions(on);
    if (!on) this.lines = [];
    this.render();
  }

  onCaption(c) {
    if (!this.room.captionsOn) return; // sent before the server heard us
    this.lines = applyCaption(this.lines, c, performance.now());
    this.render();
  }

  expire() {
    if (!this.lines.length) return;
    const kept = expireLines(this.lines, performance.now());
    if (kept.length === this.lines.length) return;
    this.lines = kept;
    this.render();
  }

  label() {
    const on = this.room.captionsOn;
    setButton(this.toggle, 'captions', t('captions'), { tooltip: on ? t('hideCaptions') : t('showCaptions') });
    this.toggle.setAttribute('aria-pressed', on ? 'true' : 'false');
    this.toggle.classList.toggle('ctl--active', on);
    this.toggle.hidden = !this.room.transcriptionAvailable;
  }

  render() {
    const r = this.room;
    this.area.hidden = !(r.captionsOn && r.transcription.enabled);
    const keys = new Set(this.lines.map((l) => l.key));
    for (const [key, n] of this.nodes) {
      if (!keys.has(key)) {
        n.li.remove();
        this.nodes.delete(key);
      }
    }
    let prev = null;
    for (const line of this.lines) {
      let n = this.nodes.get(line.key);
      // A line that becomes final is a new element, so that the live
      // region announces it (once, whole).
      if (n && line.final && !n.final) {
        n.li.remove();
        n = null;
      }
      if (!n) {
        const li = el('li', { class: 'caption', dataset: { caption: '', speaker: line.speakerId, final: String(line.final) } },
          el('span', { class: 'caption__speaker' }), ' ', el('span', { class: 'caption__text' }));
        if (!line.final) li.setAttribute('aria-hidden', 'true');
        n = { li, final: line.final };
        this.nodes.set(line.key, n);
      }
      const [name, , text] = n.li.childNodes;
      if (name.textContent !== line.name) name.textContent = line.name;
      if (text.textContent !== line.text) text.textContent = line.text;
      // Keep the DOM in the lines' order, moving only what moved.
      const want = prev ? prev.nextSibling : this.list.firstChild;
      if (want !== n.li) this.list.insertBefore(n.li, want);
      n.li.classList.toggle('caption--cont', !!prev && prev.dataset.speaker === line.speakerId);
      prev = n.li;
    }
    this.area.dataset.empty = String(this.lines.length === 0);
  }
}

// mountCaptions is the plug-in for meeting.js's MODULES.
export function mountCaptions({ room }) {
  return new Captions(room);
}
