// The meeting view: mounts one module per concern on a joined Room, and
// shows the reconnecting banner and the end-of-meeting screen.
//
// Plug-in modules (live captions will be one) are functions in MODULES:
// each gets {room, media, stage, panels} once the meeting view is up,
// listens to room events (room.addEventListener('message', …) sees every
// server message) and sends with room.send(msg).

import { $, el, clear, setIconButton } from './dom.js';
import { t, onLanguage } from './i18n.js';
import { State } from './room.js';
import { Stage } from './stage.js';
import { QualityMonitor } from './quality.js';
import { AudioSinks } from './audio.js';
import { Panels } from './panels.js';
import { Chat } from './chat.js';
import { Participants } from './participants.js';
import { Controls } from './controls.js';
import { Lobby } from './lobby.js';
import { Moderation, PersonMenu } from './moderation.js';
import { toast } from './toasts.js';

export const MODULES = [];

const ENDED = {
  left: ['endedLeftTitle', 'endedLeftText'],
  server_shutdown: ['endedShutdownTitle', 'endedShutdownText'],
  replaced: ['endedReplacedTitle', 'endedReplacedText'],
  connection_lost: ['endedLostTitle', 'endedLostText'],
  room_full: ['endedFullTitle', 'endedFullText'],
  denied: ['endedDeniedTitle', 'endedDeniedText'],
  removed: ['endedRemovedTitle', 'endedRemovedText'],
  ended: ['endedByModeratorTitle', 'endedByModeratorText'],
  ended_by_us: ['endedByUsTitle', 'endedByUsText'],
};
// A removed person may not come back to this meeting (the server refuses).
const NO_REJOIN = new Set(['removed']);

export function mountMeeting(room, media) {
  const section = $('#meeting');
  section.hidden = false;
  $('#meeting-code').textContent = room.roomId;
  document.title = `${room.roomId} · Parley`;
  const skip = $('.skip-link');
  if (skip) skip.href = '#stage';

  const icons = () => {
    setIconButton($('#settings'), 'gear', t('settings'));
    setIconButton($('#help'), 'keyboard', t('keyboardShortcuts'));
    setIconButton($('#chat-close'), 'close', t('closeChat'));
    setIconButton($('#participants-close'), 'close', t('closeParticipants'));
    setIconButton($('#lobby-close'), 'close', t('closeLobby'));
  };
  icons();
  onLanguage(icons);

  const quality = new QualityMonitor(room);
  const menu = new PersonMenu(room);
  const stage = new Stage(room, { quality, menu });
  const audio = new AudioSinks(room, media);
  const panels = new Panels();
  new Chat(room, panels);
  new Participants(room, { menu });
  new Lobby(room, panels);
  new Moderation(room);
  new Controls(room, media, panels, { onLeave: () => room.leave() });
  const banner = new Banner(room, audio);
  for (const m of MODULES) m({ room, media, stage, panels });

  room.addEventListener('notice', (e) => toast(t(e.detail.key, e.detail.params || {})));
  room.addEventListener('state', (e) => {
    if (e.detail.state !== State.ENDED) return;
    quality.close();
    audio.close();
    banner.close();
    media.stop();
    // The moderator who ended the meeting is told so, not that "a moderator" did.
    const reason = e.detail.reason === 'ended' && room.access.endedMeeting ? 'ended_by_us' : e.detail.reason;
    showEnded(reason);
  });
  // Leaving the page leaves the meeting at once, rather than after the
  // server's peer timeout.
  window.addEventListener('pagehide', () => room.leave());

  stage.render();
  audio.sync();
  $('#stage').focus();
  toast(t('joinedSelf'));
  return { room, stage, panels, audio, quality };
}

// Banner says when the connection is being recovered, or when sound is
// blocked until the user clicks.
class Banner {
  constructor(room, audio) {
    this.room = room;
    this.audio = audio;
    this.el = $('#banner');
    this.media = { publisher: 'new', subscriber: 'new' };
    this.closed = false;
    room.addEventListener('state', () => this.render());
    room.addEventListener('media', (e) => {
      this.media = e.detail;
      this.render();
    });
    audio.addEventListener('blocked', () => this.render());
    onLanguage(() => this.render());
  }

  render() {
    if (this.closed) return;
    clear(this.el);
    const bad = (s) => s === 'failed' || s === 'disconnected';
    let text = '';
    if (this.room.state === State.RECONNECTING) text = t('reconnectingBanner');
    else if (bad(this.media.publisher) || bad(this.media.subscriber)) text = t('mediaReconnectingBanner');
    if (text) {
      this.el.dataset.kind = 'reconnecting';
      this.el.append(el('span', { class: 'spinner', 'aria-hidden': 'true' }), text);
    } else if (this.audio.blocked) {
      this.el.dataset.kind = 'audio';
      const b = el('button', { id: 'enable-audio', class: 'btn btn--small', type: 'button' }, t('enableSound'));
      b.addEventListener('click', () => this.audio.resume());
      this.el.append(t('soundBlocked'), ' ', b);
    }
    this.el.hidden = !this.el.firstChild;
  }

  close() {
    this.closed = true;
    this.el.hidden = true;
  }
}

// showEnded replaces the page with the end screen of reason (a `bye`
// reason, or one of the client's own: connection_lost, room_full).
export function showEnded(reason) {
  const [title, text] = ENDED[reason] || ENDED.connection_lost;
  $('#meeting').hidden = true;
  for (const d of document.querySelectorAll('dialog[open]')) d.close();
  const section = $('#ended');
  section.hidden = false;
  section.dataset.reason = reason;
  const h = $('#ended-title');
  h.textContent = t(title);
  $('#ended-message').textContent = t(text);
  onLanguage(() => {
    h.textContent = t(title);
    $('#ended-message').textContent = t(text);
  });
  $('#rejoin').onclick = () => window.location.reload();
  $('#rejoin').hidden = NO_REJOIN.has(reason);
  h.focus();
  document.title = `${t(title)} · Parley`;
}
