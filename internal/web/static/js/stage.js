// Stage lays out the tiles: a grid that pages when the room is larger
// than the screen, or a speaker view with one large tile (a pinned tile,
// a screen share, or the active speaker) above a strip of the others.
// It also decides what we receive: video of tiles on screen is asked at
// the simulcast layer that fits the tile, video of tiles off screen is
// paused (docs/protocol.md, `subscription`).

import { $, setIconButton } from './dom.js';
import { t, language, onLanguage } from './i18n.js';
import { Tile } from './tile.js';

// Tiles are at least this big before the grid pages: 16:9 tiles narrower
// than ~200 px no longer show a face, and 16 tiles is what people can
// follow on one screen.
const MIN_TILE_W = 200;
const MIN_TILE_H = 120;
const MAX_PER_PAGE = 16;
// The pager's height: the page size is computed as if it were shown, so
// showing it never changes the page size (which would hide it again).
const PAGER_H = 52;
// Layers by the tile's width in device pixels: the camera layers are
// 320, 640 and 1280 pixels wide, so ask for the smallest one that is at
// least ~0.9x the tile (a little upscaling is not visible).
const LAYER_LOW_MAX = 360;
const LAYER_MEDIUM_MAX = 720;
const LAYERS = ['low', 'medium', 'high'];

export function layerFor(widthPx, cap = 'high') {
  let layer = widthPx <= LAYER_LOW_MAX ? 'low' : widthPx <= LAYER_MEDIUM_MAX ? 'medium' : 'high';
  if (LAYERS.indexOf(layer) > LAYERS.indexOf(cap)) layer = cap;
  return layer;
}

// bestGrid returns the columns and rows that give n tiles of ratio 16:9
// the largest size in a w×h box.
export function bestGrid(n, w, h) {
  let best = { cols: 1, rows: Math.max(1, n), size: 0 };
  for (let cols = 1; cols <= Math.max(1, n); cols++) {
    const rows = Math.ceil(n / cols);
    const tileW = Math.min(w / cols, (h / rows) * 16 / 9);
    if (tileW > best.size) best = { cols, rows, size: tileW };
  }
  return best;
}

// sharedMicOf returns how many people share a tile's microphone (0:
// unknown), or -1 when it is not shared.
function sharedMicOf(room, self, mic) {
  if (self) return room.sharedMic.shared && room.media.mic ? room.sharedMic.speakers || 0 : -1;
  return mic && mic.shared_mic ? mic.speakers || 0 : -1;
}

export class Stage {
  constructor(room, { quality, menu } = {}) {
    this.room = room;
    this.quality = quality || null;
    this.menu = menu || null;
    this.root = $('#grid');
    this.main = document.createElement('div');
    this.main.className = 'tiles-main';
    this.strip = document.createElement('div');
    this.strip.className = 'tiles-strip';
    this.root.append(this.main, this.strip);
    this.pager = $('#pager');
    this.pageLabel = $('#page-label');
    this.prev = $('#page-prev');
    this.next = $('#page-next');
    this.layoutBtn = $('#layout-toggle');
    this.tiles = new Map(); // key → Tile
    this.page = 0;
    this.pages = 1;
    this.pinned = null;
    this.speakerView = false;
    this.scheduled = false;

    this.prev.addEventListener('click', () => this.goPage(this.page - 1));
    this.next.addEventListener('click', () => this.goPage(this.page + 1));
    this.layoutBtn.addEventListener('click', () => this.setSpeakerView(!this.speakerView));
    for (const ev of ['participants', 'tracks', 'speaker', 'local', 'state', 'role']) {
      room.addEventListener(ev, () => this.schedule());
    }
    room.addEventListener('reaction', (e) => {
      const tile = this.tiles.get('camera:' + e.detail.participant_id);
      if (tile) tile.showReaction(e.detail.emoji);
    });
    if (this.quality) this.quality.addEventListener('change', () => this.schedule());
    new ResizeObserver(() => this.schedule()).observe(this.root);
    onLanguage(() => this.schedule());
    this.labelControls();
  }

  schedule() {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => {
      this.scheduled = false;
      this.render();
    });
  }

  setSpeakerView(on) {
    this.speakerView = on;
    if (!on) this.pinned = null;
    this.labelControls();
    this.schedule();
  }

  pin(key) {
    this.pinned = this.pinned === key ? null : key;
    this.labelControls();
    this.schedule();
  }

  goPage(p) {
    this.page = Math.max(0, Math.min(this.pages - 1, p));
    this.schedule();
  }

  labelControls() {
    const speaker = this.speakerView || !!this.pinned;
    this.layoutBtn.setAttribute('aria-pressed', speaker ? 'true' : 'false');
    setIconButton(this.layoutBtn, speaker ? 'grid' : 'speaker', speaker ? t('gridView') : t('speakerView'));
    setIconButton(this.prev, 'left', t('previousPage'));
    setIconButton(this.next, 'right', t('nextPage'));
  }

  // entries lists every tile the room has now, in a stable order: us
  // first, then by arrival; screen shares separately.
  entries() {
    const r = this.room;
    const out = [];
    const people = Array.from(r.participants.values()).sort((a, b) => {
      if (a.id === r.selfId) return -1;
      if (b.id === r.selfId) return 1;
      return (Date.parse(a.joined_at) || 0) - (Date.parse(b.joined_at) || 0) || a.id.localeCompare(b.id);
    });
    for (const p of people) {
      const self = p.id === r.selfId;
      const tr = r.tracksOf(p.id);
      const base = {
        participantId: p.id, name: p.name, self, connected: p.connected !== false, hand: p.hand_raised, lang: language(),
        guest: !!p.guest, canModerate: !!this.menu && this.menu.can(p.id),
      };
      const cam = tr.camera;
      const mic = tr.microphone;
      let track = null;
      let videoMuted = !cam || cam.muted;
      if (self) {
        track = r.cameraOn ? r.media.camera : null;
        videoMuted = !r.cameraOn;
      } else if (cam) {
        track = r.remoteTrack(cam.id);
      }
      out.push({
        ...base,
        key: 'camera:' + p.id,
        kind: 'camera',
        track,
        trackId: self || !cam ? null : cam.id,
        videoMuted,
        audioMuted: self ? !r.micOn : !mic || mic.muted,
        sharedMic: sharedMicOf(r, self, mic),
        speaking: r.speaking.has(p.id),
        active: r.activeSpeaker === p.id && r.participants.size > 1,
      });
      const screen = tr.screen;
      if (self ? r.screen : screen) {
        out.push({
          ...base,
          key: 'screen:' + p.id,
          kind: 'screen',
          track: self ? r.screen.video : r.remoteTrack(screen.id),
          trackId: self ? null : screen.id,
          videoMuted: !self && screen.muted,
          audioMuted: false,
          speaking: false,
          active: false,
        });
      }
    }
    return out;
  }

  render() {
    const r = this.room;
    const list = this.entries();
    const keys = new Set(list.map((e) => e.key));
    for (const [key, tile] of this.tiles) {
      if (!keys.has(key)) {
        tile.destroy();
        this.tiles.delete(key);
      }
    }
    if (this.pinned && !keys.has(this.pinned)) this.pinned = null;

    // The large tile of the speaker view: pinned, else someone's screen
    // share, else the active speaker. Our own screen stays a normal tile.
    let focus = null;
    const screen = list.find((e) => e.kind === 'screen' && !e.self);
    if (this.pinned) focus = list.find((e) => e.key === this.pinned);
    else if (screen) focus = screen;
    else if (this.speakerView && list.length > 1) {
      focus = list.find((e) => e.kind === 'camera' && e.participantId === r.activeSpeaker && !e.self)
        || list.find((e) => e.kind === 'camera' && !e.self);
    }
    const rest = list.filter((e) => e !== focus);

    const box = this.root.getBoundingClientRect();
    let mainItems;
    let stripItems = [];
    if (focus) {
      this.root.dataset.layout = 'speaker';
      mainItems = [focus];
      const stripW = Math.max(MIN_TILE_W, box.width);
      const per = Math.max(1, Math.min(MAX_PER_PAGE, Math.floor(stripW / (MIN_TILE_W * 0.6))));
      stripItems = this.paginate(rest, per, r.activeSpeaker);
    } else {
      this.root.dataset.layout = 'grid';
      const height = box.height - (this.pager.hidden ? PAGER_H : 0);
      const cols = Math.max(1, Math.floor(box.width / MIN_TILE_W));
      const rows = Math.max(1, Math.floor(height / MIN_TILE_H));
      const per = Math.max(1, Math.min(MAX_PER_PAGE, cols * rows));
      mainItems = this.paginate(list, per, r.activeSpeaker);
    }
    const g = bestGrid(mainItems.length, box.width, focus ? box.height * 0.78 : box.height);
    this.main.style.setProperty('--cols', String(g.cols));
    this.main.style.setProperty('--rows', String(g.rows));

    const visible = new Set([...mainItems, ...stripItems].map((e) => e.key));
    for (const e of list) {
      let tile = this.tiles.get(e.key);
      if (!tile) {
        tile = new Tile({
          key: e.key, kind: e.kind, participantId: e.participantId, self: e.self, onPin: (k) => this.pin(k),
          onMenu: this.menu ? (id, btn) => this.menu.open(id, btn) : null,
        });
        this.tiles.set(e.key, tile);
      }
      tile.update({ ...e, pinned: this.pinned === e.key });
      if (this.quality) tile.setQuality(this.quality.levelOf(e));
      tile.el.hidden = !visible.has(e.key);
      tile.el.classList.toggle('tile--focus', e === focus);
    }
    this.place(this.main, mainItems);
    this.place(this.strip, stripItems);
    this.strip.hidden = stripItems.length === 0;
    // Hidden tiles stay in the DOM (their video elements keep their
    // streams) in the main container's end.
    for (const e of list) {
      const tile = this.tiles.get(e.key);
      if (!visible.has(e.key) && tile.el.parentNode !== this.main) this.main.append(tile.el);
    }

    this.pager.hidden = this.pages <= 1;
    this.pageLabel.textContent = t('pageOf', { page: this.page + 1, pages: this.pages });
    this.prev.disabled = this.page === 0;
    this.next.disabled = this.page >= this.pages - 1;
    this.labelControls();
    this.subscribe(list, visible);
  }

  // paginate returns the items of the current page; the active speaker is
  // brought onto it when they are elsewhere.
  paginate(items, per, speaker) {
    this.pages = Math.max(1, Math.ceil(items.length / per));
    if (this.page >= this.pages) this.page = this.pages - 1;
    const pageItems = items.slice(this.page * per, this.page * per + per);
    if (this.pages > 1 && speaker) {
      const s = items.find((e) => e.kind === 'camera' && e.participantId === speaker && !e.self);
      if (s && !pageItems.includes(s)) {
        if (pageItems.length < per) pageItems.push(s);
        else pageItems[pageItems.length - 1] = s;
      }
    }
    return pageItems;
  }

  place(container, items) {
    const want = items.map((e) => this.tiles.get(e.key).el);
    const have = Array.from(container.children).filter((c) => !c.hidden);
    if (want.length === have.length && want.every((x, i) => x === have[i])) return;
    for (const x of want) {
      container.append(x);
      const tile = this.tiles.get(x.dataset.participantId ? 'camera:' + x.dataset.participantId : 'screen:' + x.dataset.screenOf);
      if (tile) tile.play();
    }
  }

  // subscribe asks the server for what is on screen, at the right size.
  subscribe(list, visible) {
    const cap = this.quality ? this.quality.cap : 'high';
    this.root.dataset.layerCap = cap; // for diagnostics (and the tests)
    for (const e of list) {
      if (!e.trackId) continue;
      const tile = this.tiles.get(e.key);
      const on = visible.has(e.key);
      const width = on ? tile.pixelWidth() : 0;
      // Screen shares are sent as one layer; ask "high" so the server
      // never waits for a layer that does not exist.
      const layer = e.kind === 'screen' ? 'high' : layerFor(width, cap);
      this.room.subscribe(e.trackId, layer, !on);
    }
  }

  // tileOf returns the tile of a participant's camera (reactions, tests).
  tileOf(participantId) { return this.tiles.get('camera:' + participantId) || null; }
}
