// Chat: the side panel's message log and input. Messages are plain text
// shown with textContent; http and https links become <a> elements built
// with DOM APIs, every other scheme stays text. The server limits a
// message to 2000 characters and 5 per second.

import { $, el, setButton } from './dom.js';
import { t, tn, formatTime, onLanguage } from './i18n.js';
import { toast } from './toasts.js';

const MAX_LEN = 2000;
// Enough to follow a long meeting; older messages leave the DOM.
const MAX_MESSAGES = 500;
const URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi;

// linkify returns text nodes and links for a message's text.
export function linkify(text) {
  const out = [];
  let last = 0;
  for (const m of text.matchAll(URL_RE)) {
    let raw = m[0];
    // Trailing punctuation belongs to the sentence, not the link;
    // a closing bracket only when the link did not open one.
    while (/[.,;:!?'")\]]$/.test(raw)) {
      const ch = raw[raw.length - 1];
      if (ch === ')' && (raw.match(/\(/g) || []).length >= (raw.match(/\)/g) || []).length) break;
      raw = raw.slice(0, -1);
    }
    let url;
    try {
      url = new URL(raw);
    } catch {
      continue;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') continue;
    if (m.index > last) out.push(document.createTextNode(text.slice(last, m.index)));
    out.push(el('a', { href: url.href, target: '_blank', rel: 'noopener noreferrer' }, raw));
    last = m.index + raw.length;
  }
  if (last < text.length) out.push(document.createTextNode(text.slice(last)));
  return out;
}

export class Chat {
  constructor(room, panels) {
    this.room = room;
    this.panels = panels;
    this.log = $('#chat-log');
    this.form = $('#chat-form');
    this.input = $('#chat-input');
    this.toggle = $('#chat-toggle');
    this.unread = 0;
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.send();
    });
    this.input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.send();
      }
    });
    room.addEventListener('chat', (e) => this.add(e.detail));
    panels.addEventListener('change', () => {
      if (panels.isOpen('chat')) this.unread = 0;
      this.label();
    });
    onLanguage(() => this.label());
    this.label();
  }

  send() {
    const text = this.input.value.trim();
    if (!text) return;
    if (Array.from(text).length > MAX_LEN) {
      toast(t('chatTooLong', { max: MAX_LEN }));
      return;
    }
    if (this.room.sendChat(text)) this.input.value = '';
    else toast(t('chatNotSent'));
  }

  add(msg) {
    const self = msg.participant_id === this.room.selfId;
    const when = new Date(msg.time);
    const item = el('li', { class: 'chat-msg' + (self ? ' chat-msg--self' : ''), dataset: { chatMessage: msg.id || '' } },
      el('div', { class: 'chat-msg__meta' },
        el('span', { class: 'chat-msg__sender' }, self ? t('you') : msg.name),
        ' ',
        el('time', { datetime: isNaN(when) ? '' : when.toISOString() }, isNaN(when) ? '' : formatTime(when))),
      el('p', { class: 'chat-msg__text' }, ...linkify(String(msg.text || ''))));
    const atBottom = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 40;
    this.log.append(item);
    while (this.log.children.length > MAX_MESSAGES) this.log.firstChild.remove();
    if (atBottom || self) this.log.scrollTop = this.log.scrollHeight;
    if (!self && !this.panels.isOpen('chat')) {
      this.unread++;
      this.label();
      toast(t('chatFrom', { name: msg.name, text: String(msg.text).slice(0, 80) }));
    }
  }

  label() {
    const label = this.unread ? tn('chatUnread', this.unread) : t('chat');
    setButton(this.toggle, 'chat', t('chat'), { tooltip: label });
    this.toggle.setAttribute('aria-label', label);
    this.toggle.dataset.unread = String(this.unread);
    if (this.unread) {
      this.toggle.append(el('span', { class: 'badge', 'aria-hidden': 'true' }, String(this.unread)));
    }
  }
}
