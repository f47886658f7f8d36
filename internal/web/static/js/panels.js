// Panels: the chat, participants and lobby side panels. One is open at a time
// (on a phone it covers the stage); Escape closes it and gives the focus
// back to the button that opened it.

import { $ } from './dom.js';

export class Panels extends EventTarget {
  constructor() {
    super();
    this.open = null; // 'chat' | 'participants' | 'lobby' | null
    this.items = {
      chat: { panel: $('#chat-panel'), toggle: $('#chat-toggle'), close: $('#chat-close'), focus: () => $('#chat-input') },
      participants: { panel: $('#participants-panel'), toggle: $('#participants-toggle'), close: $('#participants-close'), focus: () => $('#participants-title') },
      lobby: { panel: $('#lobby-panel'), toggle: $('#lobby-toggle'), close: $('#lobby-close'), focus: () => $('#lobby-title') },
    };
    for (const [name, it] of Object.entries(this.items)) {
      it.toggle.addEventListener('click', () => this.toggle(name));
      it.close.addEventListener('click', () => this.show(null, true));
      it.panel.addEventListener('keydown', (e) => {
        if (e.key === 'Escape') {
          e.stopPropagation();
          this.show(null, true);
        }
      });
    }
  }

  toggle(name) { this.show(this.open === name ? null : name, this.open === name); }

  isOpen(name) { return this.open === name; }

  // show opens one panel (or none); refocus returns the focus to the
  // closed panel's button.
  show(name, refocus = false) {
    const was = this.open;
    this.open = name;
    for (const [n, it] of Object.entries(this.items)) {
      const on = n === name;
      it.panel.hidden = !on;
      it.toggle.setAttribute('aria-expanded', on ? 'true' : 'false');
      it.toggle.classList.toggle('ctl--active', on);
    }
    document.body.classList.toggle('panel-open', !!name);
    if (name) {
      const f = this.items[name].focus();
      if (f) {
        if (!f.hasAttribute('tabindex') && f.tagName === 'H2') f.setAttribute('tabindex', '-1');
        f.focus();
      }
    } else if (refocus && was) {
      this.items[was].toggle.focus();
    }
    this.dispatchEvent(new CustomEvent('change', { detail: { open: name } }));
  }
}
