// "My rooms" on the home page: in oidc mode the signed-in user's rooms
// (GET /api/rooms); in open mode the rooms whose creator token this
// browser keeps (the owner's key: whoever holds it owns the room), with
// their state from GET /api/rooms/{id}. Each has its link, whether a
// meeting is live, Open and Settings.

import { $, el, clear } from './dom.js';
import { t, onLanguage } from './i18n.js';
import { api, creatorToken } from './api.js';
import { ROOM_ID } from './roomid.js';
import { store } from './storage.js';
import { openRoomSettings, apiErrorText } from './roomsettings.js';

// keptRooms lists the room ids this browser holds a creator token for
// (api.js keeps them as "creator.<room id>").
export function keptRooms() {
  return store.keys('creator.').map((k) => k.slice('creator.'.length))
    .filter((id) => ROOM_ID.test(id) && creatorToken(id)).sort();
}

// LOOKUPS bounds the rooms whose state is asked at once: each
// GET /api/rooms/{id} spends one of the address's join tokens (a burst
// of 20 by default), and the person may want to join a meeting next.
const LOOKUPS = 10;

// openModeRooms asks the state of the kept rooms; a room the server does
// not know (its data was wiped) is left out. Past LOOKUPS rooms, or when
// a look-up fails, a room is listed without its state.
async function openModeRooms() {
  const out = await Promise.all(keptRooms().map(async (id, i) => {
    const unknown = { id, active: null };
    if (i >= LOOKUPS) return unknown;
    try {
      const info = await api('GET', `/api/rooms/${encodeURIComponent(id)}`);
      return info.exists ? { id, active: !!info.active } : null;
    } catch {
      return unknown;
    }
  }));
  return out.filter(Boolean);
}

export class MyRooms {
  constructor(session) {
    this.session = session;
    this.section = $('#my-rooms');
    this.list = $('#my-rooms-list');
    this.empty = $('#my-rooms-empty');
    this.error = $('#my-rooms-error');
    this.rooms = [];
    this.failed = null;
    $('#my-rooms-hint').hidden = session.mode === 'oidc';
    onLanguage(() => this.render());
  }

  // enabled: signed in (oidc), or always in open mode.
  get enabled() { return this.session.mode !== 'oidc' || !!this.session.user; }

  async load() {
    if (!this.enabled) {
      this.section.hidden = true;
      return;
    }
    try {
      this.rooms = this.session.mode === 'oidc' ? await api('GET', '/api/rooms') : await openModeRooms();
      this.failed = null;
    } catch (err) {
      console.warn('my rooms', err);
      this.failed = err;
    }
    this.render();
  }

  render() {
    if (!this.enabled) return;
    this.section.hidden = false;
    clear(this.list);
    this.error.hidden = !this.failed;
    if (this.failed) this.error.textContent = `${t('myRoomsFailed')} ${apiErrorText(this.failed)}`;
    this.empty.hidden = !!this.failed || this.rooms.length > 0;
    for (const r of this.rooms) this.list.append(this.item(r));
  }

  item(r) {
    const path = '/' + r.id;
    const state = r.active === null ? '' : (r.active ? t('roomLive') : t('roomIdle'));
    const settings = el('button', { class: 'btn btn--small', type: 'button', 'aria-label': t('roomSettingsOf', { name: r.id }),
      dataset: { roomSettings: r.id } }, t('settings'));
    settings.addEventListener('click', () => openRoomSettings(r.id, { opener: settings }));
    return el('li', { class: 'rooms__item', dataset: { roomId: r.id, active: String(!!r.active) } },
      el('div', { class: 'rooms__name' },
        el('a', { href: path, class: 'rooms__link' }, r.id),
        state ? el('span', { class: r.active ? 'rooms__state rooms__state--live' : 'rooms__state' }, state) : null),
      el('div', { class: 'rooms__actions' },
        el('a', { href: path, class: 'btn btn--small', 'aria-label': t('openRoomNamed', { name: r.id }) }, t('openRoom')),
        settings));
  }

  // focus puts the keyboard on a room's link (after creating it).
  focus(id) {
    const a = this.list.querySelector(`[data-room-id="${id}"] .rooms__link`);
    if (a) a.focus();
  }
}
