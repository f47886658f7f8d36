// My meetings (/meetings): the meetings this browser's keys and the
// signed-in account may read (POST /api/meetings/list), newest first,
// and a search across all their transcripts (POST /api/search) whose
// hits open the viewer at the sentence found.

import { $, el, clear } from './dom.js';
import { t, tn, translate, bindLanguageSelect, onLanguage } from './i18n.js';
import { api, getSession } from './api.js';
import { mountAccount } from './account.js';
import { keptKeys, duration, date, viewerURL } from './docs.js';

translate();
bindLanguageSelect($('#language'));

const table = $('#meetings-table');
const body = $('#meetings-body');
const status = $('#meetings-status');
const error = $('#meetings-error');
let meetings = null;
let hits = null;
let lastQuery = '';

function showError(msg) {
  error.textContent = msg;
  error.hidden = !msg;
}

function renderMeetings() {
  if (!meetings) return;
  clear(body);
  table.hidden = meetings.length === 0;
  status.textContent = meetings.length ? tn('meetingsCount', meetings.length) : t('meetingsEmpty');
  for (const m of meetings) {
    const name = m.title || m.room || m.id;
    body.append(el('tr', { dataset: { meeting: m.id } },
      el('th', { scope: 'row' }, el('a', { href: viewerURL(m.id) }, name)),
      el('td', {}, date(m.started)),
      el('td', {}, m.duration ? duration(m.duration) : '—'),
      el('td', {}, m.speakers.length ? m.speakers.join(', ') : '—'),
      el('td', { dataset: { state: m.state } }, t('state_' + m.state)),
      el('td', {}, m.recorded ? t('yes') : t('no'))));
  }
}

function renderHits() {
  const box = $('#search-results');
  if (!hits) {
    box.hidden = true;
    return;
  }
  box.hidden = false;
  $('#search-results-title').textContent = hits.length ? tn('searchResults', hits.length, { q: lastQuery }) : t('searchNone', { q: lastQuery });
  const list = $('#search-hits');
  clear(list);
  for (const h of hits) {
    const sentence = el('q', { class: 'hit__text' });
    for (const p of h.parts) sentence.append(p.match ? el('mark', {}, p.text) : p.text);
    list.append(el('li', { class: 'hit' },
      el('a', { class: 'hit__link', href: viewerURL(h.meeting_id, h.segment_id) }, sentence),
      el('span', { class: 'hit__where' }, `${h.speaker} · ${h.title || h.room} · ${date(h.started)}`)));
  }
}

onLanguage(() => {
  renderMeetings();
  renderHits();
});

$('#search-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const q = $('#search-q').value.trim();
  if (!q) return;
  showError('');
  try {
    const out = await api('POST', '/api/search', { q, keys: keptKeys() });
    hits = out.hits;
    lastQuery = q;
    renderHits();
    $('#search-results-title').focus();
  } catch (err) {
    showError(err.wire === 'invalid_field' ? t('searchInvalid') : t('searchFailed'));
  }
});

getSession().then(async (s) => {
  mountAccount($('#account'), s);
  status.textContent = t('loading');
  try {
    meetings = (await api('POST', '/api/meetings/list', { keys: keptKeys() })).meetings;
    renderMeetings();
  } catch {
    status.textContent = '';
    showError(t('meetingsFailed'));
  }
}).catch(() => showError(t('serverUnreachable')));
