// The upload page (/transcribe): a recording made elsewhere is sent to
// POST /api/transcriptions with the upload's progress shown, then the
// job's state is asked every second until the transcript is ready; its
// downloads and a delete button follow. The meeting key the server
// answers is kept like a meeting's, so the links work later too.

import { $, el, clear } from './dom.js';
import { t, translate, bindLanguageSelect, onLanguage } from './i18n.js';
import { getSession, setMeetingKey, ApiError, TRANSCRIPT_FORMATS } from './api.js';
import { mountAccount } from './account.js';

translate();
bindLanguageSelect($('#language'));

const form = $('#upload-form');
const file = $('#upload-file');
const speakers = $('#upload-speakers');
const box = $('#upload-progress');
const title = $('#upload-progress-title');
const bar = $('#upload-bar');
const status = $('#upload-status');
const links = $('#upload-links');
const del = $('#upload-delete');
const error = $('#upload-error');
let session = null;
let current = null; // {meeting_id, key, state}
let render = () => {};
onLanguage(() => render());

getSession().then((s) => {
  session = s;
  mountAccount($('#account'), s);
  const mayUpload = s.mode !== 'oidc' || !!s.user;
  form.hidden = !mayUpload;
  $('#upload-sign-in').hidden = mayUpload;
}).catch(() => showError(t('serverUnreachable')));

function showError(msg) {
  error.textContent = msg;
  error.hidden = !msg;
}

// send uploads the file with XMLHttpRequest: fetch reports no upload
// progress.
function send(f, csrf) {
  return new Promise((resolve, reject) => {
    const q = new URLSearchParams({ name: f.name });
    if (speakers.value) q.set('speakers', speakers.value);
    const lang = $('#upload-language').value.trim();
    if (lang) q.set('language', lang);
    const x = new XMLHttpRequest();
    x.open('POST', '/api/transcriptions?' + q);
    x.setRequestHeader('X-Parley-CSRF', csrf);
    x.setRequestHeader('Content-Type', f.type && f.type.startsWith('audio/') ? f.type : 'application/octet-stream');
    x.responseType = 'json';
    x.upload.onprogress = (e) => {
      if (e.lengthComputable) bar.value = Math.round((e.loaded / e.total) * 100);
    };
    x.onload = () => (x.status === 202 ? resolve(x.response) : reject(new ApiError(x.response || {}, x.status)));
    x.onerror = () => reject(new ApiError({ name: 'unreachable' }, 0));
    x.send(f);
  });
}

function uploadErrorText(err) {
  if (err.wire === 'quota_exceeded') return t('uploadQuota');
  if (err.status === 413) return t('uploadTooLarge');
  if (err.status === 415) return t('uploadNotAudio');
  if (err.status === 401) return t('signInToUpload');
  if (err.status === 501) return t('uploadNoEngine');
  return t('uploadFailed', { message: err.message || '' });
}

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  showError('');
  const f = file.files[0];
  if (!f) {
    showError(t('uploadChooseFile'));
    file.focus();
    return;
  }
  form.querySelector('button').disabled = true;
  box.hidden = false;
  links.hidden = del.hidden = true;
  bar.value = 0;
  render = () => { title.textContent = t('uploadSending', { name: f.name }); };
  render();
  title.focus();
  try {
    const out = await send(f, session.csrf);
    setMeetingKey(out.meeting_id, out.key);
    current = { ...out, name: f.name };
    await follow();
  } catch (err) {
    box.hidden = true;
    showError(err instanceof ApiError ? uploadErrorText(err) : String(err));
  } finally {
    form.querySelector('button').disabled = false;
  }
});

// follow asks for the job's state until it ends.
async function follow() {
  bar.removeAttribute('value'); // indeterminate while the server works
  for (;;) {
    const r = await fetch(current.status_url, { cache: 'no-store', headers: { Authorization: 'Bearer ' + current.key } });
    const st = r.ok ? await r.json() : { state: 'dead', error: `HTTP ${r.status}` };
    current.state = st.state;
    // The server says how much of the audio it has recognised, then that
    // it is telling the speakers apart.
    const running = st.state === 'running' && typeof st.progress === 'number';
    if (running) bar.value = Math.round(st.progress * 100);
    else bar.removeAttribute('value');
    render = () => {
      title.textContent = t('uploadOf', { name: current.name });
      if (running && st.step === 'diarizing') status.textContent = t('uploadDiarizing');
      else if (running) status.textContent = t('uploadRecognised', { percent: Math.round(st.progress * 100) });
      else status.textContent = t('uploadState_' + st.state, { error: st.error || '' });
    };
    render();
    if (st.state === 'done') return done();
    if (st.state === 'dead' || st.state === 'cancelled') {
      bar.value = 0;
      return;
    }
    await new Promise((res) => setTimeout(res, 1000));
  }
}

function done() {
  bar.value = 100;
  clear(links);
  for (const f of TRANSCRIPT_FORMATS) {
    const href = `${current.transcript_url}?format=${f}&key=${encodeURIComponent(current.key)}`;
    links.append(el('li', {}, el('a', { href, download: '', dataset: { format: f } }, f.toUpperCase())));
  }
  links.hidden = false;
  del.hidden = false;
}

del.addEventListener('click', async () => {
  if (!current || !window.confirm(t('uploadDeleteConfirm'))) return;
  const r = await fetch('/api/meetings/' + current.meeting_id, {
    method: 'DELETE', headers: { 'X-Parley-CSRF': session.csrf, Authorization: 'Bearer ' + current.key },
  });
  if (r.status === 204) {
    links.hidden = del.hidden = true;
    render = () => { status.textContent = t('uploadDeleted'); };
    render();
    current = null;
  } else {
    showError(t('uploadFailed', { message: `HTTP ${r.status}` }));
  }
});
