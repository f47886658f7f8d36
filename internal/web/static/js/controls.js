// Controls: the meeting's button bar (microphone, camera, screen, hand,
// reactions, leave), the keyboard shortcuts and their help dialog, the
// settings dialog and the copy-link button.

import { $, $$, el, clear, setButton } from './dom.js';
import { t, onLanguage, bindLanguageSelect } from './i18n.js';
import { bindDevicePickers } from './devices.js';
import { store } from './storage.js';
import { toast } from './toasts.js';

// The reactions the server accepts (room.Reactions), with their names.
export const REACTIONS = [
  ['👍', 'reactThumbsUp'],
  ['👏', 'reactClap'],
  ['😂', 'reactLaugh'],
  ['❤️', 'reactHeart'],
  ['🎉', 'reactParty'],
  ['😮', 'reactSurprised'],
  ['🙋', 'reactHand'],
];

// Single-key shortcuts (WCAG 2.1.4: they can be turned off, and they
// never fire while typing in a field).
export const SHORTCUTS = [
  { key: 'm', label: 'M', action: 'shortcutMic' },
  { key: 'v', label: 'V', action: 'shortcutCamera' },
  { key: 'h', label: 'H', action: 'shortcutHand' },
  { key: 's', label: 'S', action: 'shortcutScreen' },
  { key: 'c', label: 'C', action: 'shortcutChat' },
  { key: 'p', label: 'P', action: 'shortcutParticipants' },
  { key: 'l', label: 'L', action: 'shortcutCaptions' },
  { key: '?', label: '?', action: 'shortcutHelp' },
];

export class Controls {
  constructor(room, media, panels, { onLeave }) {
    this.room = room;
    this.media = media;
    this.panels = panels;
    this.mic = $('#toggle-mic');
    this.camera = $('#toggle-camera');
    this.screen = $('#share-screen');
    this.hand = $('#raise-hand');
    this.reactions = $('#reactions');
    this.menu = $('#reactions-menu');
    this.leave = $('#leave');
    this.help = $('#help-dialog');
    this.settings = $('#settings-dialog');
    this.shortcutsOn = store.get('shortcuts', true);
    this.busy = false;

    this.mic.addEventListener('click', () => this.toggleMic());
    this.camera.addEventListener('click', () => this.toggleCamera());
    this.screen.addEventListener('click', () => this.toggleScreen());
    if (!navigator.mediaDevices || !navigator.mediaDevices.getDisplayMedia) this.screen.hidden = true; // phones
    this.hand.addEventListener('click', () => room.setHand(!room.hand));
    this.leave.addEventListener('click', onLeave);
    this.buildReactions();
    this.buildHelp();
    this.buildSettings();
    $('#help').addEventListener('click', () => this.help.showModal());
    $('#settings').addEventListener('click', () => this.settings.showModal());
    $('#copy-link').addEventListener('click', () => this.copyLink());
    document.addEventListener('keydown', (e) => this.shortcut(e));
    room.addEventListener('local', () => this.label());
    media.addEventListener('change', () => this.label());
    onLanguage(() => { this.label(); this.buildHelp(); this.labelReactions(); });
    this.label();
  }

  async toggleMic() { await this.room.setMic(!this.room.micOn); }

  async toggleCamera() {
    if (this.busy) return; // opening a camera takes a moment; ignore double clicks
    this.busy = true;
    try {
      await this.room.setCamera(!this.room.cameraOn);
    } finally {
      this.busy = false;
    }
  }

  async toggleScreen() {
    if (this.room.sharing) this.room.stopScreenShare();
    else await this.room.startScreenShare();
  }

  label() {
    const r = this.room;
    setButton(this.mic, r.micOn ? 'mic' : 'micOff', r.micOn ? t('turnOffMic') : t('turnOnMic'));
    this.mic.classList.toggle('ctl--off', !r.micOn);
    this.mic.dataset.state = r.micOn ? 'on' : 'off';
    setButton(this.camera, r.cameraOn ? 'camera' : 'cameraOff', r.cameraOn ? t('turnOffCamera') : t('turnOnCamera'));
    this.camera.classList.toggle('ctl--off', !r.cameraOn);
    this.camera.dataset.state = r.cameraOn ? 'on' : 'off';
    setButton(this.screen, r.sharing ? 'screenStop' : 'screen', r.sharing ? t('stopSharing') : t('shareScreen'));
    this.screen.classList.toggle('ctl--active', r.sharing);
    this.screen.dataset.state = r.sharing ? 'on' : 'off';
    setButton(this.hand, 'hand', r.hand ? t('lowerHand') : t('raiseHand'));
    this.hand.setAttribute('aria-pressed', r.hand ? 'true' : 'false');
    this.hand.classList.toggle('ctl--active', r.hand);
    setButton(this.reactions, 'smile', t('reactions'));
    setButton(this.leave, 'leave', t('leave'));
  }

  buildReactions() {
    clear(this.menu);
    for (const [emoji, key] of REACTIONS) {
      const b = el('button', { class: 'reaction', type: 'button', dataset: { emoji, key } }, emoji);
      b.addEventListener('click', () => {
        this.room.react(emoji);
        this.closeMenu(true);
      });
      this.menu.append(b);
    }
    this.labelReactions();
    this.reactions.addEventListener('click', () => (this.menu.hidden ? this.openMenu() : this.closeMenu(false)));
    this.menu.addEventListener('keydown', (e) => {
      const items = $$('button', this.menu);
      const i = items.indexOf(document.activeElement);
      if (e.key === 'Escape') {
        e.stopPropagation();
        this.closeMenu(true);
      } else if (e.key === 'ArrowRight' || e.key === 'ArrowDown') {
        e.preventDefault();
        items[(i + 1) % items.length].focus();
      } else if (e.key === 'ArrowLeft' || e.key === 'ArrowUp') {
        e.preventDefault();
        items[(i - 1 + items.length) % items.length].focus();
      }
    });
    document.addEventListener('pointerdown', (e) => {
      if (!this.menu.hidden && !this.menu.contains(e.target) && e.target !== this.reactions && !this.reactions.contains(e.target)) this.closeMenu(false);
    });
  }

  labelReactions() {
    for (const b of $$('button', this.menu)) {
      b.setAttribute('aria-label', t(b.dataset.key));
      b.title = t(b.dataset.key);
    }
  }

  openMenu() {
    this.menu.hidden = false;
    this.reactions.setAttribute('aria-expanded', 'true');
    const first = $('button', this.menu);
    if (first) first.focus();
  }

  closeMenu(refocus) {
    this.menu.hidden = true;
    this.reactions.setAttribute('aria-expanded', 'false');
    if (refocus) this.reactions.focus();
  }

  buildHelp() {
    const body = $('#shortcut-rows');
    clear(body);
    for (const s of SHORTCUTS) {
      body.append(el('tr', {}, el('td', {}, el('kbd', {}, s.label)), el('td', {}, t(s.action))));
    }
    const box = $('#shortcuts-enabled');
    box.checked = this.shortcutsOn;
    if (!box.dataset.bound) {
      box.dataset.bound = '1';
      box.addEventListener('change', () => {
        this.shortcutsOn = box.checked;
        store.set('shortcuts', box.checked);
      });
    }
  }

  buildSettings() {
    bindDevicePickers(this.media, {
      videoinput: $('#settings-camera'),
      audioinput: $('#settings-mic'),
      audiooutput: $('#settings-speaker'),
    }, (kind) => this.room.replaceDevice(kind));
    bindLanguageSelect($('#settings-language'));
  }

  async copyLink() {
    const url = window.location.origin + '/' + this.room.roomId;
    try {
      await navigator.clipboard.writeText(url);
      toast(t('linkCopied'));
    } catch {
      toast(t('linkIs', { url }));
    }
  }

  shortcut(e) {
    if (!this.shortcutsOn || e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) return;
    const target = e.target;
    if (target && (target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName))) return;
    if (document.querySelector('dialog[open]')) return;
    if ($('#meeting').hidden) return;
    const key = e.key.toLowerCase();
    const actions = {
      m: () => this.toggleMic(),
      v: () => this.toggleCamera(),
      h: () => this.room.setHand(!this.room.hand),
      s: () => this.screen.hidden || this.toggleScreen(),
      c: () => this.panels.toggle('chat'),
      p: () => this.panels.toggle('participants'),
      // The captions module owns its button (and hides it when the
      // server cannot transcribe).
      l: () => { const b = $('#captions-toggle'); if (b && !b.hidden) b.click(); },
      '?': () => this.help.showModal(),
    };
    if (actions[key]) {
      e.preventDefault();
      actions[key]();
    }
  }
}
