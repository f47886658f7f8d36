// Moderation: what the owner and moderators can do to others, and what
// everyone sees of the room's settings.
//
//   PersonMenu   the "actions for Grace" menu of a person (from the
//                participant list and from their tile): mute, stop their
//                camera or screen, allow to speak, promote or demote (the
//                owner), remove (after a confirmation);
//   Moderation   the moderators' section of the participants panel: mute
//                everyone, lock the room, only moderators unmute, end the
//                meeting for everyone (after a confirmation); and the
//                "Locked" indicator and its toasts, for everyone.
//
// The server checks every request against the sender's role; these
// controls are shown to moderators only because nobody else may use them.

import { $, $$, el, setIconButton } from './dom.js';
import { t, onLanguage } from './i18n.js';
import { Role } from './access.js';
import { toast } from './toasts.js';

// confirmAction asks before something that cannot be undone, in a modal
// dialog whose first button (the focus) is Cancel. It resolves true when
// confirmed; the focus goes back where it was.
export function confirmAction({ title, text, ok }) {
  const d = $('#confirm-dialog');
  $('#confirm-title').textContent = title;
  $('#confirm-text').textContent = text;
  $('#confirm-ok').textContent = ok;
  const back = document.activeElement;
  return new Promise((resolve) => {
    d.returnValue = '';
    d.addEventListener('close', () => {
      resolve(d.returnValue === 'ok');
      if (back && back.isConnected) back.focus();
    }, { once: true });
    d.showModal();
  });
}

export class PersonMenu {
  constructor(room) {
    this.room = room;
    this.menu = $('#person-menu');
    this.target = ''; // participant id while open
    this.anchor = null; // the button that opened it
    this.menu.addEventListener('keydown', (e) => this.key(e));
    document.addEventListener('pointerdown', (e) => {
      if (!this.menu.hidden && !this.menu.contains(e.target) && !(this.anchor && this.anchor.contains(e.target))) this.close(false);
    });
    // The menu goes when its person does, or when we may no longer use it.
    room.addEventListener('participants', () => {
      if (this.target && !room.participants.has(this.target)) this.close(false);
    });
    room.addEventListener('role', () => { if (!room.access.moderates) this.close(false); });
    onLanguage(() => this.close(false));
  }

  // button returns the menu button of a person in the participant list,
  // or null when we may not act on them.
  button(p) {
    if (!this.can(p.id) || this.items(p.id).length === 0) return null;
    const b = el('button', {
      class: 'icon-btn person__more', type: 'button', 'aria-haspopup': 'menu',
      'aria-expanded': this.target === p.id ? 'true' : 'false', 'aria-controls': 'person-menu', dataset: { personMenu: p.id },
    });
    setIconButton(b, 'more', t('actionsFor', { name: p.name }));
    b.addEventListener('click', () => (this.target === p.id ? this.close(true) : this.open(p.id, b)));
    return b;
  }

  // can: we moderate and the person is someone else.
  can(id) { return this.room.access.moderates && id !== this.room.selfId; }

  // items lists the actions that make sense for a person now.
  items(id) {
    const r = this.room;
    const p = r.participants.get(id);
    const tr = r.tracksOf(id);
    const out = [];
    if (tr.microphone && !tr.microphone.muted) out.push({ action: 'mute', label: 'muteName' });
    if (tr.camera && !tr.camera.muted) out.push({ action: 'stop_camera', label: 'stopCameraName' });
    if (tr.screen) out.push({ action: 'stop_screen', label: 'stopScreenName' });
    if (r.access.settings.speak_moderated) out.push({ action: 'allow_speak', label: 'allowSpeakName' });
    if (r.access.isOwner && p.role !== Role.OWNER) {
      if (p.role === Role.MODERATOR) out.push({ action: 'demote', label: 'demoteName' });
      else out.push({ action: 'promote', label: 'promoteName' });
    }
    if (p.role !== Role.OWNER) out.push({ action: 'remove', label: 'removeName', danger: true });
    return out;
  }

  open(id, anchor) {
    const p = this.room.participants.get(id);
    if (!p || !this.can(id)) return;
    this.close(false);
    this.target = id;
    this.anchor = anchor;
    this.menu.replaceChildren();
    this.menu.setAttribute('aria-label', t('actionsFor', { name: p.name }));
    for (const it of this.items(id)) {
      const b = el('button', { type: 'button', role: 'menuitem', tabindex: '-1', dataset: { action: it.action }, 'data-danger': it.danger || null }, t(it.label, { name: p.name }));
      b.addEventListener('click', () => this.act(id, it.action));
      this.menu.append(b);
    }
    this.menu.hidden = false;
    this.place();
    anchor.setAttribute('aria-expanded', 'true');
    const first = $('button', this.menu);
    if (first) first.focus();
  }

  // place puts the menu under its button, inside the window.
  place() {
    const a = this.anchor.getBoundingClientRect();
    const m = this.menu.getBoundingClientRect();
    const x = Math.max(8, Math.min(a.right - m.width, window.innerWidth - m.width - 8));
    let y = a.bottom + 4;
    if (y + m.height > window.innerHeight - 8) y = Math.max(8, a.top - m.height - 4);
    this.menu.style.setProperty('--x', `${x}px`);
    this.menu.style.setProperty('--y', `${y}px`);
  }

  // close hides the menu; refocus gives the focus back to its button
  // (or the same person's button drawn since, the list being redrawn).
  close(refocus) {
    if (this.menu.hidden) return;
    const id = this.target;
    const inList = this.anchor && !!this.anchor.closest('#participants-list');
    this.menu.hidden = true;
    this.target = '';
    let a = this.anchor;
    this.anchor = null;
    if (a && !a.isConnected) a = $(`${inList ? '#participants-list' : '#grid'} [data-person-menu="${CSS.escape(id)}"]`);
    if (a) a.setAttribute('aria-expanded', 'false');
    if (refocus && a) a.focus();
  }

  async act(id, action) {
    const p = this.room.participants.get(id);
    this.close(true);
    if (!p) return;
    if (action === 'remove') {
      const ok = await confirmAction({ title: t('removeTitle', { name: p.name }), text: t('removeText'), ok: t('remove') });
      if (!ok) return;
    }
    this.room.access.moderate(action, id);
  }

  key(e) {
    const items = $$('button', this.menu);
    const i = items.indexOf(document.activeElement);
    const go = (j) => { e.preventDefault(); items[(j + items.length) % items.length].focus(); };
    if (e.key === 'Escape') {
      e.stopPropagation();
      this.close(true);
    } else if (e.key === 'Tab') {
      this.close(false);
    } else if (e.key === 'ArrowDown') go(i + 1);
    else if (e.key === 'ArrowUp') go(i - 1);
    else if (e.key === 'Home') go(0);
    else if (e.key === 'End') go(items.length - 1);
  }
}

export class Moderation {
  constructor(room) {
    this.room = room;
    this.section = $('#moderation');
    this.lock = $('#lock-room');
    this.speak = $('#speak-moderated');
    this.indicator = $('#locked-indicator');
    this.locked = !!room.access.settings.locked; // to tell changes
    const a = room.access;
    $('#mute-all').addEventListener('click', () => {
      if (a.moderate('mute_all')) toast(t('mutedAll'));
    });
    this.lock.addEventListener('click', () => a.moderate('lock', '', { value: !a.settings.locked }));
    this.speak.addEventListener('click', () => a.moderate('speak_moderated', '', { value: !a.settings.speak_moderated }));
    $('#end-meeting').addEventListener('click', async () => {
      const ok = await confirmAction({ title: t('endMeetingTitle'), text: t('endMeetingText'), ok: t('endMeeting') });
      if (ok) a.moderate('end');
    });
    room.addEventListener('role', () => this.render());
    room.addEventListener('settings', () => {
      this.tell();
      this.render();
    });
    onLanguage(() => this.render());
    this.render();
  }

  // tell says when the room is locked or unlocked (not on joining).
  tell() {
    const locked = !!this.room.access.settings.locked;
    if (locked !== this.locked) toast(locked ? t('roomLockedToast') : t('roomUnlockedToast'));
    this.locked = locked;
  }

  render() {
    const a = this.room.access;
    this.section.hidden = !a.moderates;
    this.lock.textContent = t('lockRoom');
    this.lock.setAttribute('aria-pressed', a.settings.locked ? 'true' : 'false');
    this.speak.setAttribute('aria-pressed', a.settings.speak_moderated ? 'true' : 'false');
    this.indicator.hidden = !a.settings.locked;
    this.indicator.textContent = t('roomLocked');
    this.indicator.title = t('roomLockedTitle');
  }
}
