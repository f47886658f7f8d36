// Transcription in the meeting: the control that turns it on or off for
// the room (#transcription-toggle), the "transcription on" indicator
// shown the whole time it is on (#transcription-indicator), the notices
// when it starts, stops or is on as we join, the participant's opt-out
// (#transcription-opt-out, in the participants panel), and the transcript
// downloads during the meeting (#transcript-download) and after it (on
// the end screen).

import { $, el, icon, clear, setButton, setIconButton } from './dom.js';
import { t, language, onLanguage } from './i18n.js';
import { State } from './room.js';
import { transcriptURL } from './api.js';
import { formatLinks } from './docs.js';
import { toast } from './toasts.js';

// transcriptExists asks the server whether a meeting has a transcript
// (transcription may have been on before we joined).
export async function transcriptExists(meetingId) {
  if (!meetingId) return false;
  try {
    const r = await fetch(transcriptURL(meetingId, 'json'), { method: 'HEAD', cache: 'no-store' });
    return r.ok;
  } catch {
    return false;
  }
}

export class Transcription {
  constructor(room) {
    this.room = room;
    this.toggle = $('#transcription-toggle');
    this.indicator = $('#transcription-indicator');
    this.prefs = $('#transcription-prefs');
    this.optOut = $('#transcription-opt-out');
    this.download = $('#transcript-download');
    this.menu = $('#transcript-menu');
    this.links = $('#transcript-links');
    this.enabled = room.transcription.enabled;
    this.stored = room.transcriptSeen; // a transcript of this meeting exists
    this.meetingId = room.meetingId;
    this.shown = null; // what the indicator says (see showIndicator)
    this.linksFor = null;

    this.toggle.addEventListener('click', () => this.onToggle());
    this.optOut.addEventListener('change', () => room.setOptOut(this.optOut.checked));
    this.download.addEventListener('click', () => (this.menu.hidden ? this.openMenu() : this.closeMenu(false)));
    this.menu.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') {
        e.stopPropagation();
        this.closeMenu(true);
      }
    });
    document.addEventListener('pointerdown', (e) => {
      if (!this.menu.hidden && !this.menu.contains(e.target) && !this.download.contains(e.target)) this.closeMenu(false);
    });
    room.addEventListener('transcription', (e) => this.onState(e.detail));
    room.addEventListener('local', () => this.render());
    room.addEventListener('state', (e) => {
      if (e.detail.state === State.ENDED) this.ended();
    });
    onLanguage(() => this.render());

    // We joined before this module was mounted: tell now.
    if (this.enabled) toast(t('transcriptionJoinNotice'));
    this.probe();
    this.render();
  }

  onToggle() {
    const r = this.room;
    if (!r.transcriptionAvailable) {
      toast(t('transcriptionUnavailable'));
      return;
    }
    r.setTranscription(!r.transcription.enabled);
  }

  onState({ joined }) {
    const st = this.room.transcription;
    const was = this.enabled;
    this.enabled = st.enabled;
    if (this.room.meetingId !== this.meetingId) {
      // Joined afresh into a new meeting of the same room.
      this.meetingId = this.room.meetingId;
      this.stored = false;
      this.probe();
    }
    if (st.enabled) this.stored = true;
    if (was !== st.enabled) {
      if (joined && st.enabled) toast(t('transcriptionJoinNotice'));
      else if (st.enabled) toast(st.by_name ? t('transcriptionStartedBy', { name: st.by_name }) : t('transcriptionStarted'));
      else toast(st.by_name ? t('transcriptionStoppedBy', { name: st.by_name }) : t('transcriptionStopped'));
    }
    this.render();
  }

  // probe looks for a transcript made before we joined.
  async probe() {
    if (this.stored || !this.room.transcriptionAvailable) return;
    const id = this.meetingId;
    if (await transcriptExists(id) && id === this.meetingId) {
      this.stored = true;
      this.render();
    }
  }

  render() {
    const r = this.room;
    const st = r.transcription;
    const on = !!st.enabled;
    setButton(this.toggle, 'transcript', t('transcription'), {
      tooltip: !r.transcriptionAvailable ? t('transcriptionUnavailable') : on ? t('stopTranscription') : t('startTranscription'),
    });
    this.toggle.setAttribute('aria-pressed', on ? 'true' : 'false');
    this.toggle.classList.toggle('ctl--active', on);
    // Still focusable when unavailable, so the explanation can be heard.
    if (r.transcriptionAvailable) {
      this.toggle.removeAttribute('aria-disabled');
      this.toggle.removeAttribute('aria-describedby');
    } else {
      this.toggle.setAttribute('aria-disabled', 'true');
      this.toggle.setAttribute('aria-describedby', 'transcription-unavailable');
    }

    // The indicator's element stays in the page (a live region must exist
    // before its content changes to be announced); only its content comes
    // and goes.
    const shown = on ? `${language()}|${st.by_name || ''}` : '';
    if (shown !== this.shown) this.showIndicator(shown);

    this.prefs.hidden = !r.transcriptionAvailable;
    this.optOut.checked = r.optOut;

    this.download.hidden = !(this.stored && r.meetingId);
    setIconButton(this.download, 'download', t('downloadTranscript'));
    if (this.download.hidden) this.closeMenu(false);
    const links = `${language()}|${r.meetingId}`;
    if (links !== this.linksFor) {
      this.linksFor = links;
      clear(this.links);
      if (r.meetingId) this.links.append(...formatLinks(r.meetingId));
      this.menu.setAttribute('aria-label', t('downloadTranscript'));
    }
  }

  // showIndicator redraws the indicator only when what it says changes:
  // each redraw is read out by screen readers.
  showIndicator(shown) {
    const st = this.room.transcription;
    const on = shown !== '';
    this.shown = shown;
    clear(this.indicator);
    this.indicator.dataset.on = String(on);
    if (on) {
      const title = st.by_name ? t('transcriptionOnBy', { name: st.by_name }) : t('transcriptionOnTitle');
      this.indicator.append(el('span', { class: 'rec', title },
        el('span', { class: 'rec__dot', 'aria-hidden': 'true' }), icon('transcript'),
        el('span', { class: 'rec__text rec__text--long' }, t('transcriptionOn')),
        el('span', { class: 'rec__text rec__text--short' }, t('transcriptionOnShort')),
        el('span', { class: 'visually-hidden' }, '. ' + title)));
    }
  }

  openMenu() {
    this.menu.hidden = false;
    this.download.setAttribute('aria-expanded', 'true');
    const first = $('a', this.menu);
    if (first) first.focus();
  }

  closeMenu(refocus) {
    this.menu.hidden = true;
    this.download.setAttribute('aria-expanded', 'false');
    if (refocus) this.download.focus();
  }

  // ended offers the transcript on the end screen, when there is one.
  async ended() {
    const id = this.room.meetingId;
    const section = $('#ended-transcript');
    const list = $('#ended-transcript-links');
    if (!id || !section) return;
    if (!this.stored && !(await transcriptExists(id))) return;
    const fill = () => {
      clear(list);
      list.append(...formatLinks(id));
    };
    fill();
    onLanguage(fill);
    section.hidden = false;
  }
}

// mountTranscription is the plug-in for meeting.js's MODULES.
export function mountTranscription({ room }) {
  return new Transcription(room);
}
