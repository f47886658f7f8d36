// Participants: the side panel listing everyone with their microphone,
// camera and hand, their role (host, moderator, guest), who opted out of
// the transcription and whose microphone is shared, raised hands first
// (in the order they were raised), a moderator's menu of actions on each
// person, and the count on the toggle button. Also the join/leave/hand
// toasts.

import { $, el, icon, clear, setButton } from './dom.js';
import { t, tn, onLanguage } from './i18n.js';
import { toast } from './toasts.js';
import { Role } from './access.js';

// The roles the list names (a participant's is implied).
const ROLE_TAGS = { [Role.OWNER]: 'roleOwner', [Role.MODERATOR]: 'roleModerator' };

export class Participants {
  constructor(room, { menu }) {
    this.room = room;
    this.menu = menu;
    this.list = $('#participants-list');
    this.toggle = $('#participants-toggle');
    this.count = $('#participant-count');
    this.raisedAt = new Map(); // id → order of raising
    this.seq = 0;
    for (const ev of ['participants', 'tracks', 'local', 'role', 'settings']) room.addEventListener(ev, () => this.render());
    room.addEventListener('participants', (e) => this.notify(e.detail));
    onLanguage(() => this.render());
  }

  notify(d) {
    const r = this.room;
    if (d.joined && d.joined !== r.selfId) {
      toast(t('joinedToast', { name: r.participants.get(d.joined).name }));
    }
    if (d.left && d.info) toast(t('leftToast', { name: d.info.name }));
    if (d.updated) {
      const p = r.participants.get(d.updated);
      if (p && p.hand_raised && (!d.before || !d.before.hand_raised) && p.id !== r.selfId) {
        toast(t('handToast', { name: p.name }));
      }
    }
  }

  render() {
    const r = this.room;
    const people = Array.from(r.participants.values());
    for (const p of people) {
      if (p.hand_raised && !this.raisedAt.has(p.id)) this.raisedAt.set(p.id, ++this.seq);
      if (!p.hand_raised) this.raisedAt.delete(p.id);
    }
    people.sort((a, b) => {
      const ha = this.raisedAt.get(a.id) || Infinity;
      const hb = this.raisedAt.get(b.id) || Infinity;
      if (ha !== hb) return ha - hb;
      if (a.id === r.selfId) return -1;
      if (b.id === r.selfId) return 1;
      return a.name.localeCompare(b.name);
    });
    // The list is drawn again on every change: keep the focus on the
    // same person's menu button.
    const focused = this.list.contains(document.activeElement) ? document.activeElement.dataset.personMenu : '';
    clear(this.list);
    for (const p of people) {
      const self = p.id === r.selfId;
      const tr = r.tracksOf(p.id);
      const micOn = self ? r.micOn : !!tr.microphone && !tr.microphone.muted;
      const camOn = self ? r.cameraOn : !!tr.camera && !tr.camera.muted;
      const states = [
        micOn ? t('micOn') : t('micOff'),
        camOn ? t('cameraOn') : t('cameraOff'),
      ];
      if (p.hand_raised) states.unshift(t('handRaised'));
      if (tr.screen || (self && r.sharing)) states.push(t('presenting'));
      if (p.connected === false) states.push(t('reconnecting'));
      const optedOut = !!p.transcription_opt_out;
      const shared = self ? r.sharedMic.shared && !!r.media.mic : !!tr.microphone && !!tr.microphone.shared_mic;
      if (shared) states.push(t('sharedMicOf'));
      const role = self && r.access.role ? r.access.role : p.role || '';
      const roleTag = ROLE_TAGS[role] ? t(ROLE_TAGS[role]) : '';
      const item = el('li', {
        class: 'person',
        dataset: {
          participantEntry: p.id, handRaised: p.hand_raised ? 'true' : 'false', micOn: String(micOn), cameraOn: String(camOn),
          transcriptionOptOut: String(optedOut), sharedMic: String(shared), role, guest: String(!!p.guest),
        },
      },
      el('span', { class: 'person__name' }, p.name, self ? el('span', { class: 'person__you' }, ' ' + t('youSuffix')) : null,
        roleTag ? el('span', { class: 'person__tag person__tag--role' }, roleTag) : null,
        p.guest ? el('span', { class: 'person__tag' }, t('roleGuest')) : null,
        optedOut ? el('span', { class: 'person__tag' }, t('notTranscribed')) : null),
      el('span', { class: 'person__state' },
        p.hand_raised ? el('span', { class: 'person__hand', 'aria-hidden': 'true' }, icon('hand')) : null,
        this.stateIcon(micOn ? 'mic' : 'micOff', micOn),
        this.stateIcon(camOn ? 'camera' : 'cameraOff', camOn),
        el('span', { class: 'visually-hidden' }, states.join(', ')),
        this.menu.button(p)));
      this.list.append(item);
    }
    if (focused) {
      const b = this.list.querySelector(`[data-person-menu="${CSS.escape(focused)}"]`);
      if (b) b.focus();
    }
    const n = people.length;
    setButton(this.toggle, 'people', t('participants'), { tooltip: tn('participantCount', n) });
    // The name holds the visible text, label then count (WCAG 2.5.3).
    this.toggle.setAttribute('aria-label', `${t('participants')} ${n}`);
    this.toggle.append(' ', el('span', { class: 'badge badge--count', 'aria-hidden': 'true' }, String(n)));
    this.count.textContent = tn('participantCount', n);
  }

  stateIcon(name, on) {
    const s = el('span', { class: 'person__icon' + (on ? '' : ' person__icon--off'), 'aria-hidden': 'true' });
    s.append(icon(name));
    return s;
  }
}
