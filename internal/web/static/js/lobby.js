// Lobby: what moderators see of the people waiting to be let in. The
// server tells moderators (and only them) who knocks (`lobby_changed`,
// and `lobby` in `joined`); each newcomer is announced once with a toast
// (read by screen readers from its live region) and a short chime, the
// "Waiting" button of the control bar shows the count, and its panel
// lists them with Admit and Deny, one by one or all at once.

import { $, el, clear, setButton } from './dom.js';
import { t, tn, onLanguage } from './i18n.js';
import { toast } from './toasts.js';

// At most this many names are toasted at once; more are counted.
const MAX_TOASTS = 3;

export class Lobby {
  constructor(room, panels) {
    this.room = room;
    this.panels = panels;
    this.toggle = $('#lobby-toggle');
    this.list = $('#lobby-list');
    this.empty = $('#lobby-empty');
    this.all = $('.lobby__all');
    $('#lobby-admit-all').addEventListener('click', () => room.access.moderate('admit'));
    $('#lobby-deny-all').addEventListener('click', () => room.access.moderate('deny'));
    room.addEventListener('waiting', (e) => {
      this.alert(e.detail.added || []);
      this.render();
    });
    room.addEventListener('role', () => this.render());
    onLanguage(() => this.render());
    this.render();
  }

  // alert tells a moderator who just knocked.
  alert(added) {
    if (!this.room.access.moderates || added.length === 0) return;
    for (const w of added.slice(0, MAX_TOASTS)) toast(t('knockToast', { name: w.name }));
    if (added.length > MAX_TOASTS) toast(tn('knockMore', added.length - MAX_TOASTS));
    chime();
  }

  render() {
    const access = this.room.access;
    const waiting = access.moderates ? access.lobby : [];
    const n = waiting.length;
    this.toggle.hidden = !access.moderates;
    if (!access.moderates && this.panels.isOpen('lobby')) this.panels.show(null);
    setButton(this.toggle, 'door', t('lobbyButton'), { tooltip: tn('lobbyCount', n) });
    this.toggle.setAttribute('aria-label', n ? `${t('lobbyButton')} (${tn('lobbyCount', n)})` : t('lobbyButton'));
    this.toggle.dataset.count = String(n);
    this.toggle.classList.toggle('ctl--alert', n > 0);
    if (n) this.toggle.append(el('span', { class: 'badge', 'aria-hidden': 'true' }, String(n)));
    clear(this.list);
    for (const w of waiting) {
      const admit = el('button', { class: 'btn btn--small btn--primary', type: 'button', dataset: { lobbyAdmit: w.id }, 'aria-label': t('admitName', { name: w.name }) }, t('admit'));
      const deny = el('button', { class: 'btn btn--small', type: 'button', dataset: { lobbyDeny: w.id }, 'aria-label': t('denyName', { name: w.name }) }, t('deny'));
      admit.addEventListener('click', () => this.decide('admit', w.id));
      deny.addEventListener('click', () => this.decide('deny', w.id));
      this.list.append(el('li', { class: 'person', dataset: { lobbyEntry: w.id, guest: String(!!w.guest) } },
        el('span', { class: 'person__name' }, w.name, w.guest ? el('span', { class: 'person__tag' }, t('roleGuest')) : null),
        el('span', { class: 'person__actions' }, admit, deny)));
    }
    this.empty.hidden = n > 0;
    this.all.hidden = n < 2;
  }

  // decide admits or denies one person; the focus moves to the panel's
  // title, as their row goes away.
  decide(action, id) {
    this.room.access.moderate(action, id);
    if (this.list.contains(document.activeElement)) $('#lobby-title').focus();
  }
}

let audio = null;

// chime plays two short tones (WebAudio, nothing to download). A browser
// that allows no sound yet makes it silent, never an error: the toast and
// the count still tell.
export function chime() {
  try {
    audio ||= new AudioContext();
    if (audio.state === 'suspended') audio.resume().catch(() => {});
    const now = audio.currentTime;
    const gain = audio.createGain();
    gain.gain.setValueAtTime(0.0001, now);
    gain.gain.exponentialRampToValueAtTime(0.15, now + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, now + 0.45);
    gain.connect(audio.destination);
    const osc = audio.createOscillator();
    osc.type = 'sine';
    osc.frequency.setValueAtTime(660, now);
    osc.frequency.setValueAtTime(880, now + 0.15);
    osc.connect(gain);
    osc.start(now);
    osc.stop(now + 0.5);
  } catch { /* no audio here */ }
}
