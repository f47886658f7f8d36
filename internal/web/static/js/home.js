// Home page: start a new meeting, or join one by its code or link.

import { $ } from './dom.js';
import { t, translate, bindLanguageSelect, onLanguage } from './i18n.js';
import { ROOM_ID, roomFromInput } from './roomid.js';
import { api, setCreatorToken } from './api.js';

translate();
bindLanguageSelect($('#language'));

const newBtn = $('#new-meeting');
const form = $('#join-form');
const input = $('#join-code');
const codeError = $('#join-code-error');
const homeError = $('#home-error');
let lastError = null;

onLanguage(() => {
  if (lastError) lastError();
});

newBtn.addEventListener('click', async () => {
  newBtn.disabled = true;
  homeError.hidden = true;
  try {
    const body = await api('POST', '/api/rooms', {});
    if (!ROOM_ID.test(body.id)) throw new Error('bad room id');
    if (body.creator_token) setCreatorToken(body.id, body.creator_token);
    window.location.assign('/' + body.id);
  } catch (err) {
    console.warn('new meeting', err);
    lastError = () => { homeError.textContent = t('newMeetingFailed'); };
    lastError();
    homeError.hidden = false;
    newBtn.disabled = false;
  }
});

form.addEventListener('submit', (e) => {
  e.preventDefault();
  const id = roomFromInput(input.value);
  if (!id) {
    lastError = () => { codeError.textContent = t('joinCodeInvalid'); };
    lastError();
    codeError.hidden = false;
    input.setAttribute('aria-invalid', 'true');
    input.focus();
    return;
  }
  window.location.assign('/' + id);
});

input.addEventListener('input', () => {
  codeError.hidden = true;
  input.removeAttribute('aria-invalid');
});
