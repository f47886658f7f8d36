// Shared by the pages that show kept meetings (/meetings and the
// viewer): the meeting keys this browser holds, and how times, dates and
// durations read.

import { store } from './storage.js';
import { t, language } from './i18n.js';
import { el } from './dom.js';
import { TRANSCRIPT_FORMATS, transcriptURL } from './api.js';

// keptKeys lists the meeting keys this browser holds (api.js keeps them
// as "key.<meeting id>"): the right to read those meetings.
export function keptKeys() {
  return store.keys('key.').map((k) => store.get(k, '')).filter((v) => typeof v === 'string' && v).slice(0, 1000);
}

// clock formats seconds as h:mm:ss (m:ss under an hour).
export function clock(sec) {
  const s = Math.max(0, Math.floor(sec || 0));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

// duration reads seconds as "1 h 05 min" / "12 min" / "40 s".
export function duration(sec) {
  const s = Math.round(sec || 0);
  if (s < 60) return `${s} s`;
  const m = Math.round(s / 60);
  return m < 60 ? `${m} min` : `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

// date reads a timestamp in the page's language.
export function date(iso) {
  const d = new Date(iso);
  if (!iso || Number.isNaN(d.getTime()) || d.getFullYear() < 2000) return '';
  return d.toLocaleString(language(), { dateStyle: 'medium', timeStyle: 'short' });
}

// viewerURL is a meeting's page, at a moment when given.
export function viewerURL(meetingId, segmentId) {
  return `/meetings/${encodeURIComponent(meetingId)}` + (segmentId ? `#s${segmentId}` : '');
}

// The strings naming each download, by format.
export const FORMAT_LABELS = {
  odt: 'formatOdt',
  docx: 'formatDocx',
  txt: 'formatTxt',
  md: 'formatMd',
  vtt: 'formatVtt',
  srt: 'formatSrt',
  json: 'formatJson',
  rttm: 'formatRttm',
};

// formatLinks returns one download link per transcript format of a
// meeting (same origin; the server names the file).
export function formatLinks(meetingId) {
  return TRANSCRIPT_FORMATS.map((f) => el('li', {},
    el('a', { href: transcriptURL(meetingId, f), download: '', dataset: { format: f } }, t(FORMAT_LABELS[f]))));
}
