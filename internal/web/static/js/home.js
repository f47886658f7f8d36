// Home page: start a new meeting (one click) or a room with chosen
// settings, join one by its code or link, and list "My rooms". In oidc
// mode creating needs a sign-in; joining by code never does.

import { $ } from './dom.js';
import { t, translate, bindLanguageSelect, onLanguage } from './i18n.js';
import { ROOM_ID, roomFromInput } from './roomid.js';
import { api, getSession, setCreatorToken, ApiError } from './api.js';
import { mountAccount, signInURL } from './account.js';
import { MyRooms } from './myrooms.js';
import { settingsFields } from './roomfields.js';
import { apiErrorText } from './roomsettings.js';

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

// createRoom asks for a room and keeps its creator token (open mode).
async function createRoom(body) {
  const out = await api('POST', '/api/rooms', body);
  if (!ROOM_ID.test(out.id)) throw new Error('bad room id');
  if (out.creator_token) setCreatorToken(out.id, out.creator_token);
  return out;
}

newBtn.addEventListener('click', async () => {
  newBtn.disabled = true;
  homeError.hidden = true;
  try {
    const body = await createRoom({});
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

// NewRoom is the "New room with settings…" dialog: an optional name and
// the room's settings; the room then appears in My rooms.
class NewRoom {
  constructor(session, rooms) {
    this.session = session;
    this.rooms = rooms;
    this.dialog = $('#new-room-dialog');
    this.form = $('#new-room-form');
    this.name = $('#new-room-name');
    this.nameError = $('#new-room-name-error');
    this.error = $('#new-room-error');
    this.create = $('#new-room-create');
    this.opener = $('#new-room');
    this.opener.addEventListener('click', () => this.open());
    $('#new-room-cancel').addEventListener('click', () => this.dialog.close());
    this.dialog.addEventListener('close', () => this.opener.focus());
    this.name.addEventListener('input', () => { this.nameError.hidden = true; this.name.removeAttribute('aria-invalid'); });
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.submit();
    });
  }

  open() {
    // Built afresh in the current language (the dialog is modal: the
    // language cannot change while it is open).
    this.form.reset();
    this.fields = settingsFields(this.session.mode, 'nr');
    this.fields.set({ access: 'public', locked: false, transcription_by: this.session.mode === 'oidc' ? 'moderators' : 'everyone', speak_moderated: false });
    $('#new-room-fields').replaceChildren(this.fields.node);
    this.nameError.hidden = true;
    this.error.hidden = true;
    this.name.removeAttribute('aria-invalid');
    this.dialog.showModal();
    this.name.focus();
  }

  badName(key) {
    this.nameError.textContent = t(key);
    this.nameError.hidden = false;
    this.name.setAttribute('aria-invalid', 'true');
    this.name.focus();
  }

  async submit() {
    const id = this.name.value.trim().toLowerCase();
    if (id && (!ROOM_ID.test(id) || id.length < 10)) {
      this.badName('roomNameInvalid');
      return;
    }
    this.error.hidden = true;
    this.create.disabled = true;
    try {
      const body = this.fields.get();
      if (id) body.id = id;
      const out = await createRoom(body);
      this.dialog.close();
      $('#home-status').textContent = t('roomCreated', { name: out.id });
      await this.rooms.load();
      this.rooms.focus(out.id);
    } catch (err) {
      if (err instanceof ApiError && err.wire === 'invalid_room') {
        this.badName('roomNameRefused');
      } else {
        this.error.textContent = apiErrorText(err);
        this.error.hidden = false;
      }
    } finally {
      this.create.disabled = false;
    }
  }
}

async function start() {
  let session;
  try {
    session = await getSession();
  } catch (err) {
    // The server will say what is wrong when asked to create.
    console.warn('session', err);
    session = { mode: 'open', user: null };
  }
  mountAccount($('#account'), session);
  const canCreate = session.mode !== 'oidc' || !!session.user;
  $('#create').hidden = !canCreate;
  $('#sign-in-prompt').hidden = canCreate;
  $('#sign-in-create').href = signInURL('/');
  const rooms = new MyRooms(session);
  if (canCreate) new NewRoom(session, rooms);
  await rooms.load();
}

start();
