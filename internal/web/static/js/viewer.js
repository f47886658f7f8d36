// The transcript viewer (/meetings/{id}): the meeting's transcript as a
// document — a heading per speaker turn (name in the speaker's colour,
// time), what was said, the events (transcription on/off, opt-outs)
// beside it —, find in transcript with every match highlighted, the
// downloads, and for those who may edit (GET …/edits says may_edit):
// rename a speaker everywhere, edit a segment's text, split it at the
// cursor, merge it with the next, undo, and the history of changes.
// A link to #s<segment id> opens the page at that sentence.

import { $, el, clear } from './dom.js';
import { t, tn, translate, bindLanguageSelect, onLanguage } from './i18n.js';
import { api, getSession, meetingKey } from './api.js';
import { mountAccount } from './account.js';
import { clock, date, duration, formatLinks } from './docs.js';

translate();
bindLanguageSelect($('#language'));

const meetingId = decodeURIComponent(window.location.pathname.split('/')[2] || '');
const COLOURS = 8; // css: .spk-0 … .spk-7

let doc = null; // the transcript (GET …/transcript?format=json)
let history = null; // {edits, may_edit}
let colour = new Map(); // speaker id → colour index
let editing = null; // the turn being edited: its first segment id
let renaming = null; // the speaker id being renamed
let player = null; // the recording's player, when there is one
let summary = null; // GET …/summary
let summaryPoll = 0;
let matches = []; // find: the <mark> elements, in document order
let current = -1;

function authHeaders() {
  const key = meetingKey(meetingId);
  return key ? { Authorization: `Bearer ${key}` } : {};
}

function showError(msg) {
  $('#viewer-error').textContent = msg;
  $('#viewer-error').hidden = !msg;
}

function errorText(err) {
  switch (err && err.wire) {
    case 'edit_conflict': return t('editConflict');
    case 'invalid_field': return t('editInvalid');
    case 'meeting_in_progress': return t('editInProgress');
    case 'not_allowed': return t('editNotAllowed');
    default: return t('editFailed');
  }
}

async function load() {
  try {
    doc = await api('GET', `/api/meetings/${encodeURIComponent(meetingId)}/transcript?format=json`, undefined, authHeaders());
  } catch (err) {
    $('#viewer-status').textContent = '';
    if (err.status === 404 || err.status === 401) {
      $('#viewer-missing').hidden = false;
      document.title = t('viewerMissingTitle');
      return false;
    }
    showError(t('viewerFailed'));
    $('#viewer-doc').hidden = false;
    return false;
  }
  try {
    history = await api('GET', `/api/meetings/${encodeURIComponent(meetingId)}/edits`, undefined, authHeaders());
  } catch {
    history = { edits: [], may_edit: false };
  }
  try {
    summary = await api('GET', `/api/meetings/${encodeURIComponent(meetingId)}/summary`, undefined, authHeaders());
  } catch {
    summary = null;
  }
  if (!player) {
    try {
      const pb = await api('GET', `/api/meetings/${encodeURIComponent(meetingId)}/playback`, undefined, authHeaders());
      if (pb.tracks.length) player = new Player(pb.tracks);
    } catch { /* no recording to play */ }
  }
  colour = new Map();
  for (const s of doc.speakers || []) if (!colour.has(s.id)) colour.set(s.id, colour.size % COLOURS);
  for (const s of doc.segments) if (!colour.has(s.speaker_id)) colour.set(s.speaker_id, colour.size % COLOURS);
  return true;
}

// turns groups the segments into speaker turns and puts the events
// between them, on one timeline.
function turns() {
  const out = [];
  const events = (doc.events || []).slice();
  let turn = null;
  for (const s of doc.segments) {
    while (events.length && events[0].at <= s.start) {
      out.push({ event: events.shift() });
      turn = null;
    }
    if (!turn || turn.speakerId !== s.speaker_id) {
      turn = { speakerId: s.speaker_id, speaker: s.speaker, start: s.start, segments: [] };
      out.push(turn);
    }
    turn.segments.push(s);
  }
  for (const e of events) out.push({ event: e });
  return out;
}

function eventText(e) {
  const who = e.speaker || e.speaker_id || '';
  switch (e.kind) {
    case 'transcription_on': return t('evTranscriptionOn');
    case 'transcription_off': return t('evTranscriptionOff');
    case 'opt_out': return t('evOptOut', { name: who });
    case 'opt_in': return t('evOptIn', { name: who });
    case 'audio_dropped': return t('evAudioDropped', { name: who, detail: e.detail || '' });
    case 'joined': return t('evJoined', { name: who });
    case 'left': return t('evLeft', { name: who });
    default: return e.kind;
  }
}

function render() {
  if (!doc) return;
  const title = doc.meeting.title || meetingId;
  document.title = `${title} — ${t('viewerTitle')}`;
  $('#viewer-title').textContent = title;
  const end = doc.segments.reduce((m, s) => Math.max(m, s.end), 0);
  $('#viewer-meta').textContent = [date(doc.meeting.started), end ? duration(end) : '', tn('segmentsCount', doc.segments.length)]
    .filter(Boolean).join(' · ');
  const legend = $('#viewer-speakers');
  clear(legend);
  const names = new Map();
  for (const s of doc.segments) if (!names.has(s.speaker_id)) names.set(s.speaker_id, s.speaker);
  for (const [id, name] of names) legend.append(el('li', { class: `legend__item spk-${colour.get(id)}` }, name));
  const links = $('#viewer-exports');
  clear(links);
  links.append(...formatLinks(meetingId));
  const mayEdit = !!(history && history.may_edit);
  $('#edit-tools').hidden = !mayEdit;
  $('#edit-undo').disabled = !(history && history.edits.some((e) => e.kind !== 'undo' && !e.undone));
  renderHistory();
  renderSummary();

  const box = $('#transcript');
  clear(box);
  if (!doc.segments.length) box.append(el('p', { class: 'hint' }, t('viewerEmpty')));
  let n = 0;
  for (const item of turns()) {
    if (item.event) {
      box.append(el('aside', { class: 'event' }, el('span', { class: 'event__time' }, clock(item.event.at)), ' ', eventText(item.event)));
      continue;
    }
    n++;
    const first = item.segments[0];
    const head = el('h2', { class: 'turn__head', id: `turn-${first.id || n}` },
      el('span', { class: 'turn__name' }, item.speaker), ' ',
      el('a', { class: 'turn__time', href: `#s${first.id}`, 'aria-label': t(player ? 'playFrom' : 'turnAt', { time: clock(item.start) }),
        on: { click: (e) => { if (player) { e.preventDefault(); player.seek(item.start, true); } } } }, clock(item.start)));
    const section = el('section', { class: `turn spk-${colour.get(item.speakerId)}`, 'aria-labelledby': head.id, dataset: { speaker: item.speakerId } }, head);
    if (mayEdit) section.append(editButtons(item));
    if (mayEdit && renaming === item.speakerId && editing === null) section.append(renameForm(item));
    if (mayEdit && editing === first.id) {
      section.append(editForm(item));
    } else {
      const p = el('p', { class: 'turn__text' });
      item.segments.forEach((s, i) => {
        if (i) p.append(' ');
        p.append(el('span', { class: 'seg', id: `s${s.id}`, tabindex: '-1', dataset: { id: s.id, start: s.start } }, s.text));
      });
      section.append(p);
    }
    box.append(section);
  }
  if (player) player.show();
  find(false);
}

function editButtons(item) {
  const first = item.segments[0];
  return el('div', { class: 'turn__tools' },
    el('button', { class: 'btn btn--small', type: 'button', dataset: { action: 'rename' }, 'aria-label': t('renameSpeakerOf', { name: item.speaker }),
      on: { click: () => { renaming = item.speakerId; editing = null; render(); focusIn(`[data-speaker="${cssEscape(item.speakerId)}"] input`); } } }, t('renameSpeaker')),
    el('button', { class: 'btn btn--small', type: 'button', dataset: { action: 'edit' }, 'aria-label': t('editTurnOf', { name: item.speaker, time: clock(item.start) }),
      on: { click: () => { editing = first.id; renaming = null; render(); focusIn(`#edit-${first.id} textarea`); } } }, t('editTurn')));
}

function cssEscape(s) { return window.CSS && CSS.escape ? CSS.escape(s) : s; }

function focusIn(sel) {
  const e = document.querySelector(sel);
  if (e) e.focus();
}

function renameForm(item) {
  const input = el('input', { type: 'text', maxlength: '100', value: item.speaker, autocomplete: 'off', id: 'rename-input' });
  const form = el('form', { class: 'rename', on: { submit: (e) => {
    e.preventDefault();
    send({ kind: 'rename_speaker', speaker_id: item.speakerId, name: input.value }, () => { renaming = null; });
  } } },
  el('label', { for: 'rename-input' }, t('renameLabel', { name: item.speaker })),
  input,
  el('button', { class: 'btn btn--small btn--primary', type: 'submit' }, t('save')),
  el('button', { class: 'btn btn--small', type: 'button', on: { click: () => { renaming = null; render(); } } }, t('cancel')));
  return form;
}

function editForm(item) {
  const form = el('div', { class: 'edit', id: `edit-${item.segments[0].id}`, role: 'group', 'aria-label': t('editTurnOf', { name: item.speaker, time: clock(item.start) }) });
  item.segments.forEach((s, i) => {
    const area = el('textarea', { id: `text-${s.id}`, rows: '3', maxlength: '10000', dataset: { id: s.id } });
    area.value = s.text;
    const next = item.segments[i + 1];
    form.append(el('div', { class: 'edit__seg' },
      el('label', { for: area.id }, `${clock(s.start)}`),
      area,
      el('div', { class: 'edit__actions' },
        el('button', { class: 'btn btn--small btn--primary', type: 'button', dataset: { action: 'save' },
          on: { click: () => send({ kind: 'edit_text', segment_id: s.id, text: area.value }, () => {}) } }, t('save')),
        el('button', { class: 'btn btn--small', type: 'button', dataset: { action: 'split' },
          on: { click: () => send({ kind: 'split', segment_id: s.id, at: splitOffset(area) }, () => {}) } }, t('splitHere')),
        next ? el('button', { class: 'btn btn--small', type: 'button', dataset: { action: 'merge' },
          on: { click: () => send({ kind: 'merge', segment_id: s.id, with: next.id }, () => {}) } }, t('mergeNext')) : null)));
  });
  form.append(el('button', { class: 'btn btn--small', type: 'button', dataset: { action: 'done' }, on: { click: () => { editing = null; render(); } } }, t('doneEditing')));
  return form;
}

// splitOffset is the cursor's position in characters (code points, as
// the server counts) of the text as stored.
function splitOffset(area) {
  return Array.from(area.value.slice(0, area.selectionStart)).length;
}

async function send(body, after) {
  showError('');
  $('#viewer-status').textContent = '';
  try {
    await api('POST', `/api/meetings/${encodeURIComponent(meetingId)}/edits`, body, authHeaders());
    after();
    if (await load()) render();
    $('#viewer-status').textContent = t('editSaved');
  } catch (err) {
    showError(errorText(err));
  }
}

function editText(e) {
  const b = (e.before && (e.before.speaker || (e.before.segments || [])[0])) || {};
  const a = (e.after && (e.after.speaker || (e.after.segments || [])[0])) || {};
  switch (e.kind) {
    case 'rename_speaker': return t('histRename', { from: b.name || '', to: a.name || '' });
    case 'edit_text': return t('histText', { from: b.text || '', to: a.text || '' });
    case 'merge': return t('histMerge', { at: clock(b.start) });
    case 'split': return t('histSplit', { at: clock(b.start) });
    case 'undo': return t('histUndo');
    default: return e.kind;
  }
}

function renderHistory() {
  const list = $('#edit-history-list');
  clear(list);
  if (!history) return;
  for (const e of history.edits.slice().reverse()) {
    list.append(el('li', { class: e.undone ? 'history__item history__item--undone' : 'history__item' },
      el('span', {}, editText(e)),
      el('span', { class: 'hint' }, ` — ${e.name || t('someone')}, ${date(e.at)}${e.undone ? ` (${t('undone')})` : ''}`)));
  }
}

// Player plays a finished recording's microphones together on the
// meeting clock (each file starts where it joined): a clock of its own
// drives them, each <audio> is started, stopped and put back in step
// (more than 0.35 s off) as the clock passes through its file. The
// sentence being heard is highlighted.
class Player {
  constructor(tracks) {
    const key = meetingKey(meetingId);
    const box = $('#player-tracks');
    this.tracks = tracks.map((tr) => {
      const audio = el('audio', { preload: 'metadata', src: tr.url + (key ? `?key=${encodeURIComponent(key)}` : '') });
      box.append(audio);
      return { start: tr.start, end: tr.end, audio };
    });
    this.length = Math.max(...tracks.map((tr) => tr.end));
    this.t = 0;
    this.playing = false;
    this.timer = 0;
    const seek = $('#player-seek');
    seek.max = String(Math.ceil(this.length));
    seek.addEventListener('input', () => this.seek(Number(seek.value), this.playing));
    $('#player-toggle').addEventListener('click', () => (this.playing ? this.pause() : this.play()));
    $('#player').hidden = false;
    this.show();
  }

  play() {
    if (this.t >= this.length) this.t = 0;
    this.playing = true;
    this.base = performance.now() - this.t * 1000;
    this.sync(true);
    this.tick();
  }

  pause() {
    this.playing = false;
    clearTimeout(this.timer);
    for (const tr of this.tracks) tr.audio.pause();
    this.show();
  }

  seek(t, play) {
    this.t = Math.max(0, Math.min(t, this.length));
    this.base = performance.now() - this.t * 1000;
    if (play && !this.playing) this.play();
    else this.sync(true);
    this.show();
  }

  tick() {
    clearTimeout(this.timer);
    if (!this.playing) return;
    this.t = (performance.now() - this.base) / 1000;
    if (this.t >= this.length) {
      this.t = this.length;
      this.pause();
      return;
    }
    this.sync(false);
    this.show();
    this.timer = setTimeout(() => this.tick(), 200);
  }

  sync(force) {
    for (const tr of this.tracks) {
      const local = this.t - tr.start;
      const inside = local >= 0 && local < tr.end - tr.start;
      if (this.playing && inside) {
        if (force || Math.abs(tr.audio.currentTime - local) > 0.35) tr.audio.currentTime = local;
        if (tr.audio.paused) tr.audio.play().catch(() => {});
      } else if (!tr.audio.paused) {
        tr.audio.pause();
      }
    }
  }

  show() {
    const toggle = $('#player-toggle');
    toggle.textContent = t(this.playing ? 'playerPause' : 'playerPlay');
    toggle.setAttribute('aria-pressed', String(this.playing));
    $('#player-seek').value = String(Math.floor(this.t));
    $('#player-seek').setAttribute('aria-valuetext', clock(this.t));
    $('#player-time').textContent = `${clock(this.t)} / ${clock(this.length)}`;
    $('#player').dataset.t = this.t.toFixed(2);
    let heard = null;
    for (const s of doc.segments) if (s.start <= this.t && this.t < s.end + 0.3) heard = s;
    for (const old of document.querySelectorAll('.seg--playing')) if (!heard || old.id !== `s${heard.id}`) old.classList.remove('seg--playing');
    if (heard && (this.playing || this.t > 0)) {
      const e = document.getElementById(`s${heard.id}`);
      if (e && !e.classList.contains('seg--playing')) {
        e.classList.add('seg--playing');
        if (this.playing) e.scrollIntoView({ block: 'nearest' });
      }
    }
  }
}

// A click on a sentence plays the recording from there.
$('#transcript').addEventListener('click', (e) => {
  const seg = e.target.closest && e.target.closest('.seg');
  if (player && seg && !window.getSelection().toString()) player.seek(Number(seg.dataset.start), true);
});

// renderSummary shows the summary, its decisions and actions, each with
// links to the sentences it cites, and the state of one being written.
function renderSummary() {
  const box = $('#summary');
  box.hidden = !summary || !summary.configured && !summary.summary;
  if (box.hidden) return;
  const s = summary.summary;
  const starts = new Map(doc.segments.map((seg) => [seg.id, seg.start]));
  $('#summary-text').textContent = s ? s.text : '';
  const fillItems = (list, items, boxSel) => {
    clear(list);
    $(boxSel).hidden = !items || !items.length;
    for (const it of items || []) {
      const extra = [it.who, it.when].filter(Boolean).join(', ');
      const li = el('li', {}, it.text + (extra ? ` (${extra})` : ''));
      for (const id of it.segments) {
        if (!starts.has(id)) continue;
        li.append(' ', el('a', { class: 'cite', href: `#s${id}`, 'aria-label': t('citeAt', { time: clock(starts.get(id)) }) }, clock(starts.get(id))));
      }
      list.append(li);
    }
  };
  fillItems($('#summary-decisions'), s && s.decisions, '#summary-decisions-box');
  fillItems($('#summary-actions'), s && s.actions, '#summary-actions-box');
  $('#summary-state').textContent = summary.pending ? t('summaryPending') : s ? t('summaryBy', { model: s.model || '', date: date(s.created) }) : t('summaryNone');
  $('#summary-regenerate').hidden = !summary.may_regenerate;
  $('#summary-regenerate').disabled = !!summary.pending;
  clearTimeout(summaryPoll);
  if (summary.pending) summaryPoll = setTimeout(refreshSummary, 2000);
}

async function refreshSummary() {
  try {
    summary = await api('GET', `/api/meetings/${encodeURIComponent(meetingId)}/summary`, undefined, authHeaders());
    renderSummary();
  } catch { /* the next action reloads */ }
}

$('#summary-regenerate').addEventListener('click', async () => {
  showError('');
  try {
    await api('POST', `/api/meetings/${encodeURIComponent(meetingId)}/summary`, {}, authHeaders());
    summary.pending = true;
    renderSummary();
  } catch (err) {
    showError(errorText(err));
  }
});

$('#edit-undo').addEventListener('click', () => send({ kind: 'undo' }, () => { editing = null; renaming = null; }));

// fold lowers case and drops accents one character at a time, so that
// a match in the folded text maps back to the characters shown.
function fold(ch) {
  return ch.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}

function find(move) {
  const q = Array.from($('#find-q').value.trim()).map(fold).join('');
  matches = [];
  for (const seg of document.querySelectorAll('#transcript .seg')) {
    const text = seg.textContent;
    clear(seg);
    if (!q) {
      seg.textContent = text;
      continue;
    }
    // Folded text and, for each of its characters, where it came from.
    const chars = Array.from(text);
    let folded = '';
    const from = [];
    chars.forEach((c, i) => {
      const f = fold(c);
      folded += f;
      for (let k = 0; k < f.length; k++) from.push(i);
    });
    let at = 0;
    let i = folded.indexOf(q);
    while (i >= 0) {
      const s = from[i];
      const e = from[i + q.length - 1] + 1;
      if (s > at) seg.append(chars.slice(at, s).join(''));
      const m = el('mark', {}, chars.slice(s, e).join(''));
      seg.append(m);
      matches.push(m);
      at = e;
      i = folded.indexOf(q, i + q.length);
    }
    if (at < chars.length) seg.append(chars.slice(at).join(''));
  }
  if (!matches.length) {
    current = -1;
  } else if (move || current < 0 || current >= matches.length) {
    current = Math.max(0, Math.min(current, matches.length - 1));
  }
  showCurrent();
}

function showCurrent() {
  const count = $('#find-count');
  const q = $('#find-q').value.trim();
  count.textContent = !q ? '' : matches.length ? t('findCount', { i: current + 1, n: matches.length }) : t('findNone');
  matches.forEach((m, i) => m.classList.toggle('current', i === current));
  if (current >= 0) matches[current].scrollIntoView({ block: 'center' });
}

$('#find-q').addEventListener('input', () => { current = 0; find(false); });
$('#find-form').addEventListener('submit', (e) => {
  e.preventDefault();
  if (!matches.length) return;
  current = (current + 1) % matches.length;
  showCurrent();
});
$('#find-prev').addEventListener('click', () => {
  if (!matches.length) return;
  current = (current - 1 + matches.length) % matches.length;
  showCurrent();
});

// target shows the sentence a link names (#s<id>).
function target() {
  const m = /^#s(\d+)$/.exec(window.location.hash);
  if (!m) return;
  const seg = document.getElementById(`s${m[1]}`);
  if (!seg) return;
  for (const old of document.querySelectorAll('.seg--target')) old.classList.remove('seg--target');
  seg.classList.add('seg--target');
  seg.scrollIntoView({ block: 'center' });
  seg.focus({ preventScroll: true });
}
window.addEventListener('hashchange', target);

onLanguage(() => render());

getSession().then(async (s) => {
  mountAccount($('#account'), s);
  $('#viewer-status').textContent = t('loading');
  if (!(await load())) return;
  $('#viewer-status').textContent = '';
  $('#viewer-doc').hidden = false;
  render();
  target();
}).catch(() => showError(t('serverUnreachable')));
