// Tile is one participant's camera (or one screen share) on the stage:
// video or an initials avatar, name, muted microphone, raised hand,
// connection quality, a shared microphone, a pin button and reactions;
// a guest is marked, and a moderator has a menu of actions on others.
// Its state is readable from data attributes too (data-audio-muted,
// data-video-off, data-shared-mic, …).

import { el, icon, initials, hue, setIconButton } from './dom.js';
import { t, tn } from './i18n.js';

const REACTION_MS = 4_000;

export class Tile {
  constructor({ key, kind, participantId, self, onPin, onMenu }) {
    this.key = key;
    this.kind = kind; // 'camera' | 'screen'
    this.participantId = participantId;
    this.self = self;
    this.state = {};
    this.track = null;

    this.video = el('video', { class: 'tile__video', autoplay: true, playsinline: true, muted: true });
    this.video.muted = true; // audio plays through the audio sinks
    if (self && kind === 'camera') this.video.classList.add('mirrored');
    this.avatar = el('div', { class: 'tile__avatar', 'aria-hidden': 'true' });
    this.nameEl = el('span', { class: 'tile__name' });
    if (kind === 'camera') this.nameEl.dataset.participantName = '';
    this.youEl = self ? el('span', { class: 'tile__you' }) : null;
    this.micEl = el('span', { class: 'tile__mic', role: 'img' }, icon('micOff'));
    this.handEl = el('span', { class: 'tile__hand', role: 'img' }, icon('hand'));
    this.sharedEl = el('span', { class: 'tile__shared', role: 'img', hidden: true }, icon('people'), el('span', { class: 'tile__shared-count' }));
    this.qualityEl = el('span', { class: 'tile__quality', role: 'img', dataset: { level: 'unknown' } },
      el('i'), el('i'), el('i'));
    this.statusEl = el('span', { class: 'tile__status' });
    this.pinBtn = el('button', { class: 'tile__pin icon-btn', type: 'button', 'aria-pressed': 'false' });
    this.pinBtn.addEventListener('click', () => onPin(this.key));
    this.reactionEl = el('div', { class: 'tile__reaction', 'aria-hidden': 'true' });
    this.guestEl = el('span', { class: 'tile__tag', hidden: true });
    // The moderator's menu: on other people's camera tiles only.
    this.moreBtn = null;
    if (kind === 'camera' && !self && onMenu) {
      this.moreBtn = el('button', { class: 'tile__more tile__pin icon-btn', type: 'button', 'aria-haspopup': 'menu', 'aria-expanded': 'false', 'aria-controls': 'person-menu', hidden: true, dataset: { personMenu: participantId } });
      this.moreBtn.addEventListener('click', () => onMenu(participantId, this.moreBtn));
    }

    this.el = el('article', { class: `tile tile--${kind}` },
      this.video, this.avatar, this.statusEl, this.reactionEl, this.pinBtn, this.moreBtn,
      el('div', { class: 'tile__footer' }, this.micEl, this.nameEl, this.youEl, this.guestEl, this.sharedEl, this.handEl, this.qualityEl));
    if (kind === 'camera') this.el.dataset.participantId = participantId;
    else this.el.dataset.screenOf = participantId;
    if (self) this.el.classList.add('tile--self');
    this.video.addEventListener('resize', () => this.el.classList.toggle('tile--portrait', this.video.videoHeight > this.video.videoWidth));
  }

  // update applies a new state; only what changed touches the DOM.
  update(s) {
    const old = this.state;
    this.state = s;
    if (s.track !== this.track) this.setTrack(s.track);
    if (s.trackId) this.video.dataset.trackId = s.trackId;
    if (s.name !== old.name || s.lang !== old.lang || s.pinned !== old.pinned) this.relabel();
    if (s.name !== old.name) {
      this.avatar.textContent = initials(s.name);
      this.avatar.style.setProperty('--hue', String(hue(this.participantId)));
    }
    const videoOff = !s.track || s.videoMuted;
    this.flag('videoOff', videoOff);
    this.flag('audioMuted', this.kind === 'camera' && s.audioMuted);
    this.flag('handRaised', this.kind === 'camera' && s.hand);
    this.flag('speaking', this.kind === 'camera' && s.speaking);
    this.flag('activeSpeaker', this.kind === 'camera' && s.active);
    this.flag('disconnected', !s.connected);
    this.flag('pinned', s.pinned);
    this.pinBtn.setAttribute('aria-pressed', s.pinned ? 'true' : 'false');
    this.micEl.hidden = !(this.kind === 'camera' && s.audioMuted);
    this.handEl.hidden = !(this.kind === 'camera' && s.hand);
    this.statusEl.hidden = s.connected;
    this.guestEl.hidden = !(this.kind === 'camera' && s.guest);
    this.flag('guest', this.kind === 'camera' && s.guest);
    if (this.moreBtn) this.moreBtn.hidden = !s.canModerate;
    const shared = this.kind === 'camera' && s.sharedMic >= 0;
    if (shared) this.el.dataset.sharedMic = String(s.sharedMic);
    else delete this.el.dataset.sharedMic;
    this.sharedEl.hidden = !shared;
    if (shared && (s.sharedMic !== old.sharedMic || s.lang !== old.lang)) {
      const label = s.sharedMic > 0 ? tn('sharedMicCount', s.sharedMic) : t('sharedMicOf');
      this.sharedEl.setAttribute('aria-label', label);
      this.sharedEl.title = label;
      this.sharedEl.lastChild.textContent = s.sharedMic > 0 ? String(s.sharedMic) : '';
    }
  }

  relabel() {
    const s = this.state;
    const name = s.name || '';
    this.nameEl.textContent = this.kind === 'screen' ? t('screenOf', { name }) : name;
    if (this.youEl) this.youEl.textContent = t('youSuffix');
    this.el.setAttribute('aria-label', this.kind === 'screen' ? t('screenOf', { name }) : (this.self ? t('youTile', { name }) : name));
    this.micEl.setAttribute('aria-label', t('micOffOf', { name }));
    this.micEl.title = t('micOff');
    this.handEl.setAttribute('aria-label', t('handRaisedBy', { name }));
    this.handEl.title = t('handRaised');
    this.statusEl.textContent = t('reconnecting');
    setIconButton(this.pinBtn, 'pin', s.pinned ? t('unpin', { name }) : t('pin', { name }));
    this.guestEl.textContent = t('roleGuest');
    if (this.moreBtn) setIconButton(this.moreBtn, 'more', t('actionsFor', { name }));
    this.setQuality(this.quality || 'unknown');
  }

  flag(name, on) {
    const attr = name.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
    if (on) this.el.setAttribute('data-' + attr, 'true');
    else this.el.removeAttribute('data-' + attr);
  }

  setTrack(track) {
    this.track = track;
    this.video.srcObject = track ? new MediaStream([track]) : null;
    if (track) this.play();
  }

  play() {
    const p = this.video.play();
    if (p && p.catch) p.catch(() => {}); // muted video may always autoplay; a pause on removal is retried on attach
  }

  setQuality(level) {
    this.quality = level;
    this.qualityEl.dataset.level = level;
    const label = t('connectionQuality', { quality: t('quality_' + level) });
    this.qualityEl.setAttribute('aria-label', label);
    this.qualityEl.title = label;
    this.qualityEl.hidden = level === 'unknown';
  }

  showReaction(emoji) {
    const bubble = el('span', { class: 'tile__reaction-bubble' }, emoji);
    this.reactionEl.append(bubble);
    setTimeout(() => bubble.remove(), REACTION_MS);
  }

  // width in device pixels, to pick a simulcast layer.
  pixelWidth() { return this.el.clientWidth * (window.devicePixelRatio || 1); }

  destroy() {
    this.video.srcObject = null;
    this.el.remove();
  }
}
