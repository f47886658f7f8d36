// Recording in the meeting: the control moderators use to start or stop
// it (#recording-toggle), the "recording" indicator everyone sees the
// whole time it is on (#recording-indicator), the notices when it starts,
// stops or is on as we join, and, for moderators, the download of the
// recording (one ZIP) on the end screen.

import { $, el, icon, clear, setButton } from './dom.js';
import { t, language, onLanguage } from './i18n.js';
import { State } from './room.js';
import { toast } from './toasts.js';

export class Recording {
  constructor(room) {
    this.room = room;
    this.toggle = $('#recording-toggle');
    this.indicator = $('#recording-indicator');
    this.enabled = !!room.recording.enabled;
    this.recorded = this.enabled; // this meeting was recorded while we were here
    this.shown = null;

    this.toggle.addEventListener('click', () => room.setRecording(!room.recording.enabled));
    room.addEventListener('recording', (e) => this.onState(e.detail));
    room.addEventListener('role', () => this.render());
    room.addEventListener('state', (e) => {
      if (e.detail.state === State.ENDED) this.ended();
    });
    onLanguage(() => this.render());
    if (this.enabled) toast(t('recordingJoinNotice'));
    this.render();
  }

  onState({ joined }) {
    const st = this.room.recording;
    const was = this.enabled;
    this.enabled = !!st.enabled;
    if (st.enabled) this.recorded = true;
    if (was !== this.enabled) {
      if (joined && st.enabled) toast(t('recordingJoinNotice'));
      else if (st.enabled) toast(st.by_name ? t('recordingStartedBy', { name: st.by_name }) : t('recordingStarted'));
      else toast(st.by_name ? t('recordingStoppedBy', { name: st.by_name }) : t('recordingStopped'));
    }
    this.render();
  }

  render() {
    const r = this.room;
    const on = !!r.recording.enabled;
    this.toggle.hidden = !(r.recordingAvailable && r.access.moderates);
    setButton(this.toggle, 'record', t('record'), { tooltip: on ? t('stopRecording') : t('startRecording') });
    this.toggle.setAttribute('aria-pressed', on ? 'true' : 'false');
    this.toggle.classList.toggle('ctl--active', on);
    const shown = on ? `${language()}|${r.recording.by_name || ''}` : '';
    if (shown !== this.shown) this.showIndicator(shown);
  }

  // showIndicator redraws the indicator only when what it says changes
  // (each redraw is read out by screen readers).
  showIndicator(shown) {
    const st = this.room.recording;
    this.shown = shown;
    clear(this.indicator);
    this.indicator.dataset.on = String(shown !== '');
    if (shown === '') return;
    const title = st.by_name ? t('recordingOnBy', { name: st.by_name }) : t('recordingOnTitle');
    this.indicator.append(el('span', { class: 'rec rec--recording', title },
      el('span', { class: 'rec__dot', 'aria-hidden': 'true' }), icon('record'),
      el('span', { class: 'rec__text rec__text--long' }, t('recordingOn')),
      el('span', { class: 'rec__text rec__text--short' }, t('recordingOnShort')),
      el('span', { class: 'visually-hidden' }, '. ' + title)));
  }

  // ended offers moderators the recording on the end screen.
  ended() {
    const section = $('#ended-recording');
    if (!section || !this.recorded || !this.room.access.moderates || !this.room.meetingId) return;
    const link = $('#ended-recording-link');
    link.href = this.room.recordingURL();
    section.hidden = false;
  }
}

// mountRecording is the plug-in for meeting.js's MODULES.
export function mountRecording({ room }) {
  return new Recording(room);
}
