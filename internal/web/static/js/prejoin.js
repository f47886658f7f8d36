// Pre-join: the display name (remembered; the provider's for someone
// signed in, and the account corner says who), a live camera preview, the
// microphone level, device pickers, camera/microphone on or off, and
// clear words when the browser gives no device. Joining without any
// device works: the person then listens and watches. When the meeting is
// being transcribed the page says so before anyone joins, and offers to
// opt out; a meeting room's computer can say its microphone is shared.

import { $, el, setIconButton } from './dom.js';
import { t, onLanguage } from './i18n.js';
import { LevelMeter, MediaError } from './media.js';
import { bindDevicePickers } from './devices.js';
import { store } from './storage.js';
import { bindSharedMic, loadSharedMic } from './sharedmic.js';
import { signInURL } from './account.js';

const MAX_NAME = 64;
// Control characters and bidirectional overrides: the server refuses
// them (room.CleanName); say so before asking it.
const BAD_NAME = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/u;
// The room's transcription state is asked again this often while the
// page waits: someone inside may turn it on meanwhile.
const ROOM_POLL_MS = 15_000;

export function validName(raw) {
  const name = raw.trim();
  if (!name) return { error: 'nameRequired' };
  if (Array.from(name).length > MAX_NAME) return { error: 'nameTooLong' };
  if (BAD_NAME.test(name)) return { error: 'nameInvalid' };
  return { name };
}

export class Prejoin {
  constructor(media, roomId, { onJoin }) {
    this.media = media;
    this.onJoin = onJoin;
    this.section = $('#prejoin');
    this.form = $('#prejoin-form');
    this.name = $('#display-name');
    this.nameError = $('#display-name-error');
    this.preview = $('#preview');
    this.previewOff = $('#preview-off');
    this.micBtn = $('#prejoin-mic');
    this.camBtn = $('#prejoin-camera');
    this.level = $('#mic-level');
    this.error = $('#media-error');
    this.join = $('#join');
    this.status = $('#join-status');
    this.lastError = '';
    this.account = $('#display-name-account');
    this.user = null;
    this.session = null;
    this.roomId = roomId;
    this.transcribed = false;
    this.notice = $('#prejoin-transcription');
    this.optOutRow = $('#prejoin-opt-out-row');
    this.optOut = $('#prejoin-opt-out');
    this.sharedMic = loadSharedMic();
    bindSharedMic({ box: $('#prejoin-shared-mic'), count: $('#prejoin-speakers'), row: $('#prejoin-speakers-row') },
      this.sharedMic, (v) => { this.sharedMic = v; });
    $('#room-code').textContent = roomId;
    this.name.value = store.get('name', '');
    this.meter = new LevelMeter((v) => { this.level.value = v; });

    this.micBtn.addEventListener('click', async () => {
      if (!media.mic) {
        await media.openMic(); // asks again: the user may have allowed it meanwhile
        media.setMicOn(true);
      } else {
        media.setMicOn(!media.micOn);
      }
    });
    this.camBtn.addEventListener('click', () => media.setCameraOn(!(media.cameraOn && media.camera)));
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.submit();
    });
    this.name.addEventListener('input', () => { this.nameError.hidden = true; this.name.removeAttribute('aria-invalid'); });
    media.addEventListener('change', () => this.render());
    bindDevicePickers(media, {
      videoinput: $('#camera-select'),
      audioinput: $('#mic-select'),
      audiooutput: $('#speaker-select'),
    });
    onLanguage(() => { this.render(); this.renderAccount(); });
    this.render();
    this.checkRoom();
    this.poll = setInterval(() => this.checkRoom(), ROOM_POLL_MS);
  }

  // checkRoom asks the server whether the meeting is being transcribed
  // (GET /api/rooms/{id} tells it for a live room).
  async checkRoom() {
    try {
      const r = await fetch(`/api/rooms/${encodeURIComponent(this.roomId)}`, { cache: 'no-store' });
      if (!r.ok) return;
      const info = await r.json();
      this.transcribed = !!(info && info.transcription && info.transcription.enabled);
      this.render();
    } catch { /* the join will say what is wrong */ }
  }

  // useSession shows who joins: a signed-in user under the provider's
  // name (the server takes it from the session, not from this field); in
  // oidc mode someone not signed in joins as a guest, or signs in first.
  useSession(session) {
    this.session = session;
    this.user = session.user || null;
    if (this.user) {
      this.name.value = this.user.name || this.user.email;
      this.name.readOnly = true;
      this.nameError.hidden = true;
    }
    this.renderAccount();
  }

  renderAccount() {
    const s = this.session;
    this.account.hidden = !s || s.mode !== 'oidc';
    if (this.account.hidden) return;
    if (this.user) {
      this.account.replaceChildren(t('signedInAs', { name: this.user.name || this.user.email }), ' ', t('nameFromAccount'));
    } else {
      this.account.replaceChildren(t('joiningAsGuest'), ' ',
        el('a', { id: 'prejoin-sign-in', href: signInURL() }, t('signIn')));
    }
  }

  // options are the choices made here that the Room needs.
  options() {
    return { optOut: this.transcribed && this.optOut.checked, sharedMic: this.sharedMic };
  }

  render() {
    const m = this.media;
    const camOn = m.cameraOn && !!m.camera;
    if (this.preview.srcObject?.getVideoTracks()[0] !== m.camera) {
      this.preview.srcObject = m.camera ? new MediaStream([m.camera]) : null;
    }
    this.preview.hidden = !camOn;
    this.previewOff.hidden = camOn;
    this.previewOff.textContent = m.errors.video ? t('noCameraShort') : t('cameraIsOff');
    this.meter.attach(m.mic);
    if (!m.mic || !m.micOn) this.level.value = 0;

    const micAvail = !!m.mic;
    setIconButton(this.micBtn, m.micOn && micAvail ? 'mic' : 'micOff', m.micOn && micAvail ? t('turnOffMic') : t('turnOnMic'));
    this.micBtn.setAttribute('aria-pressed', m.micOn && micAvail ? 'true' : 'false');
    setIconButton(this.camBtn, camOn ? 'camera' : 'cameraOff', camOn ? t('turnOffCamera') : t('turnOnCamera'));
    this.camBtn.setAttribute('aria-pressed', camOn ? 'true' : 'false');

    const msg = mediaMessage(m.errors);
    this.error.hidden = !msg;
    this.error.textContent = msg;
    this.join.textContent = !m.mic && !m.camera && (m.errors.audio || m.errors.video) ? t('joinListenOnly') : t('joinNow');
    if (this.lastError) this.status.textContent = t(this.lastError);
    this.notice.hidden = !this.transcribed;
    this.optOutRow.hidden = !this.transcribed;
  }

  async submit() {
    // A signed-in user's name is the provider's: the server takes it from
    // the session, and they could not edit it anyway.
    const v = this.user ? { name: this.name.value } : validName(this.name.value);
    if (v.error) {
      this.nameError.textContent = t(v.error);
      this.nameError.hidden = false;
      this.name.setAttribute('aria-invalid', 'true');
      this.name.focus();
      return;
    }
    if (!this.user) store.set('name', v.name); // a guest's name, for next time
    this.join.disabled = true;
    this.lastError = '';
    this.status.textContent = t('joining');
    const err = await this.onJoin(v.name, this.options());
    this.join.disabled = false;
    if (err) {
      this.lastError = err;
      this.status.textContent = t(err);
      if (err === 'nameInvalid') this.name.focus();
    } else {
      this.status.textContent = '';
    }
  }

  // waiting says the join waits for the browser's permission prompt.
  waiting() { this.status.textContent = t('waitingForDevices'); }

  hide() {
    clearInterval(this.poll);
    this.meter.close();
    this.preview.srcObject = null;
    this.section.hidden = true;
  }
}

// mediaMessage explains what the browser refused or lacks, in one sentence
// plus what still works.
export function mediaMessage(errors) {
  const a = errors.audio;
  const v = errors.video;
  if (!a && !v) return '';
  if (a === MediaError.INSECURE) return t('mediaInsecure');
  if (a === MediaError.DENIED && v === MediaError.DENIED) return t('mediaDenied');
  if (a === MediaError.NO_DEVICE && v === MediaError.NO_DEVICE) return t('mediaNoDevices');
  const parts = [];
  if (a) parts.push(t('micError_' + a));
  if (v) parts.push(t('cameraError_' + v));
  if (a) parts.push(t('listenOnlyHint'));
  return parts.join(' ');
}
