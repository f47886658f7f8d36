// Room is the meeting as this browser sees it: the signalling session,
// the two peer connections, who is here and what they publish. It never
// touches the DOM; views listen to its events:
//
//   state         {state, reason}      connecting/connected/reconnecting/ended
//   participants  {joined|left|updated: id}
//   tracks        {}                   track infos or received media changed
//   speaker       {participantId, speaking}
//   chat          server chat message
//   reaction      {participant_id, emoji}
//   local         {}                   our own mic/camera/screen/hand changed
//   notice        {key, params}        something to tell the user
//   media         {publisher, subscriber}  peer connection states
//   transcription {joined}             the meeting's transcription state changed
//                                      (or we joined: tell the user if it is on)
//   lobby         {waiting}            we knock: a moderator must let us in
//   waiting, settings, role, moderated the access model (access.js)
//   caption       server caption message (for captions.js)
//   message       every server message (for plug-in modules)
//
// Reconnection: when the socket drops, the session is resumed on a new
// socket with the resume token (media keeps flowing meanwhile); when the
// server no longer knows us, we join again and republish, without a
// page reload. A peer connection that fails gets an ICE restart.

import { Signalling } from './signalling.js';
import { Publisher, Subscriber, setLayers } from './peers.js';
import { captureScreen, canShareScreenAudio } from './media.js';
import { joinToken, meetingKey, setMeetingKey, transcriptURL } from './api.js';
import { Access } from './access.js';

export const State = Object.freeze({
  CONNECTING: 'connecting',
  CONNECTED: 'connected',
  RECONNECTING: 'reconnecting',
  ENDED: 'ended',
});

// Error codes of docs/protocol.md the client acts on.
export const Code = Object.freeze({
  RATE_LIMITED: 4013,
  SHUTTING_DOWN: 4014,
  ROOM_FULL: 4015,
  RESUME_FAILED: 4016,
  INVALID_CHAT: 4017,
  INVALID_NAME: 4007,
  INVALID_ROOM: 4006,
  NO_TRANSCRIPTION: 4019,
  NOT_ALLOWED: 4040,
  REMOVED: 4041,
  NO_SUCH_PARTICIPANT: 4048,
});


// MAX_MIC_SPEAKERS is the most people the server accepts on one shared
// microphone (docs/protocol.md, shared_mic).
export const MAX_MIC_SPEAKERS = 20;

// micSharing returns the shared-microphone fields of a publish or
// shared_mic message: speakers only when known (the server takes 1 to 20).
export function micSharing({ shared, speakers }) {
  if (!shared) return { shared_mic: false };
  const n = Math.trunc(Number(speakers) || 0);
  return n >= 1 && n <= MAX_MIC_SPEAKERS ? { shared_mic: true, speakers: n } : { shared_mic: true };
}

const JOIN_TIMEOUT_MS = 10_000;
// Without a working socket for this long the server is considered gone.
// It is longer than the server's default peer timeout (20 s), so a
// network blip always ends in a resume or a fresh join, not this screen.
const GIVE_UP_MS = 45_000;
// A peer connection "disconnected" this long gets an ICE restart;
// "failed" gets one at once.
const DISCONNECTED_GRACE_MS = 3_000;
// The server sends each subscriber a report twice a second for each track
// it receives: nothing received this long on the subscriber connection
// (after something was) means the path is gone — sooner than the
// browser's own "disconnected" (Chrome: 5.7 s after our address changed).
const STALL_CHECK_MS = 1_000;
const STALL_MS = 1_500;

export class JoinError extends Error {
  constructor(msg) {
    super(msg.message || msg.name || 'join failed');
    this.code = msg.code;
    this.name = 'JoinError';
    this.wire = msg.name;
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class Room extends EventTarget {
  // optOut: do not transcribe our voice; captions: receive live captions;
  // sharedMic: {shared, speakers} when several people use our microphone.
  // All three are kept across reconnections and sent again after a
  // fresh join (the server forgets a participant it removed).
  constructor({ roomId, name, media, url, optOut = false, captions = true, sharedMic = { shared: false, speakers: 0 } }) {
    super();
    this.roomId = roomId;
    this.name = name;
    this.media = media;
    this.sig = new Signalling(url);
    this.homeURL = this.sig.url; // the socket of the node that served the page
    this.state = State.CONNECTING;
    this.selfId = '';
    this.token = '';
    this.access = new Access(this); // role, room settings, lobby, moderation
    this.participants = new Map(); // id → info
    this.tracks = new Map(); // id → track info (everyone's, ours included)
    this.activeSpeaker = '';
    this.speaking = new Set();
    this.pub = null;
    this.sub = null;
    this.screen = null; // {video, audio} while sharing
    this.hand = false;
    this.subs = new Map(); // track id → {layer, paused} last asked
    this.retired = []; // publications removed before the server confirmed them
    this.joinWaiter = null;
    this.refSeq = 0;
    this.restartTimers = new Map();
    // Transcription (docs/protocol.md): the meeting's state as the server
    // tells it, and our own choices.
    this.meetingId = '';
    this.meetingStarted = null; // Date of meeting time 0 (caption times count from it)
    this.transcription = { enabled: false };
    this.transcriptionAvailable = false;
    this.recording = { enabled: false };
    this.recordingAvailable = false;
    this.transcriptSeen = false; // transcription was on in this meeting while we were here
    this.optOut = optOut;
    this.captionsOn = captions;
    this.sharedMic = { shared: !!sharedMic.shared, speakers: sharedMic.speakers || 0 };
    this.layersWanted = new Map(); // track id → rids the server asks us to send
    this.sig.addEventListener('message', (e) => this.onMessage(e.detail));
    this.sig.addEventListener('close', () => this.onSocketLost());
    this.onOnline = () => this.networkChanged();
    window.addEventListener('online', this.onOnline);
    // Where the browser tells (Android's Chrome: Wi-Fi to mobile data).
    if (navigator.connection) navigator.connection.addEventListener('change', this.onOnline);
    // A device that goes away (unplugged, taken by the system) is shown
    // as off to the others rather than as a frozen picture.
    media.addEventListener('change', () => this.deviceCheck());
  }

  deviceCheck() {
    if (!this.pub) return;
    for (const [source, track] of [['camera', this.media.camera], ['microphone', this.media.mic]]) {
      const p = this.pub.bySource(source);
      if (p && !track && !p.muted) {
        p.muted = true;
        this.sendMute(p);
        this.emit('local');
      }
    }
  }

  emit(type, detail = {}) { this.dispatchEvent(new CustomEvent(type, { detail })); }

  setState(state, reason = '') {
    if (this.state === state && !reason) return;
    this.state = state;
    this.emit('state', { state, reason });
  }

  // send is for plug-in modules too (captions, …): a message on the
  // signalling socket, false when it is down.
  send(msg) { return this.sig.send(msg); }

  // start connects and joins; it throws a JoinError the pre-join page
  // shows (invalid name, room full, server draining, unreachable).
  async start() {
    this.setState(State.CONNECTING);
    try {
      await this.sig.open();
    } catch {
      this.setState(State.ENDED, 'unreachable');
      throw new JoinError({ name: 'unreachable', message: 'server unreachable' });
    }
    try {
      await this.join(await this.tokenJoin());
    } catch (err) {
      this.sig.close();
      this.setState(State.ENDED, 'join_failed');
      throw err;
    }
    this.setState(State.CONNECTED);
  }

  // tokenJoin asks the server for a join token and returns the join
  // message that carries it; the server's answer names our role.
  //
  // With several nodes the answer names the node the room lives on
  // (signal_url) when it is not this one: the socket moves there.
  async tokenJoin() {
    let out;
    try {
      out = await joinToken(this.roomId, this.name);
      this.access.role = out.role;
    } catch (err) {
      throw new JoinError({ code: err.code, name: err.wire || 'unreachable', message: err.message });
    }
    const url = out.signal_url || this.homeURL;
    if (url !== this.sig.url || !this.sig.isOpen) {
      this.sig.url = url;
      try {
        await this.sig.open();
      } catch {
        throw new JoinError({ name: 'unreachable', message: 'the meeting\'s server is unreachable' });
      }
    }
    return { type: 'join', token: out.token };
  }

  join(msg) {
    const ref = `join-${++this.refSeq}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.joinWaiter = null;
        reject(new JoinError({ name: 'timeout', message: 'no answer to join' }));
      }, JOIN_TIMEOUT_MS);
      this.joinWaiter = {
        ref,
        resolve: (m) => { clearTimeout(timer); resolve(m); },
        reject: (m) => { clearTimeout(timer); reject(new JoinError(m)); },
        waiting: () => clearTimeout(timer),
      };
      if (!this.sig.send({ ...msg, ref })) this.joinWaiter.reject({ name: 'unreachable', message: 'socket closed' });
    });
  }

  onMessage(msg) {
    switch (msg.type) {
      case 'joined':
        this.onJoined(msg);
        if (this.joinWaiter) this.joinWaiter.resolve(msg);
        this.joinWaiter = null;
        break;
      case 'lobby':
        // We knock: the join waits, without its timeout, for a moderator.
        if (this.joinWaiter) this.joinWaiter.waiting();
        this.emit('lobby', { waiting: true });
        break;
      case 'answer':
        if (this.pub) this.pub.handleAnswer(msg);
        break;
      case 'offer':
        if (this.sub) this.sub.handleOffer(msg);
        break;
      case 'published':
        this.onPublished(msg);
        break;
      case 'layers':
        this.onLayers(msg);
        break;
      case 'participant_joined':
        this.participants.set(msg.participant.id, msg.participant);
        this.emit('participants', { joined: msg.participant.id });
        break;
      case 'participant_updated': {
        const before = this.participants.get(msg.participant.id);
        this.participants.set(msg.participant.id, msg.participant);
        if (msg.participant.id === this.selfId) {
          this.hand = msg.participant.hand_raised;
          this.access.setRole(msg.participant.role);
          this.emit('local');
        }
        this.emit('participants', { updated: msg.participant.id, before });
        break;
      }
      case 'participant_left':
        this.removeParticipant(msg.participant_id, msg.reason);
        break;
      case 'track_published':
      case 'track_updated':
        this.tracks.set(msg.track.id, msg.track);
        this.emit('tracks', { participantId: msg.track.participant_id });
        break;
      case 'track_unpublished':
        this.tracks.delete(msg.track_id);
        this.subs.delete(msg.track_id);
        this.emit('tracks', { participantId: msg.participant_id });
        break;
      case 'active_speaker':
        this.activeSpeaker = msg.participant_id || '';
        this.speaking = new Set(msg.speaking || []);
        this.emit('speaker', { participantId: this.activeSpeaker, speaking: this.speaking });
        break;
      case 'chat':
        this.emit('chat', msg);
        break;
      case 'reaction':
        this.emit('reaction', msg);
        break;
      case 'recording':
        this.recording = msg;
        this.emit('recording', { joined: false });
        break;
      case 'transcription':
        this.transcription = msg;
        if (msg.enabled) this.transcriptSeen = true;
        this.emit('transcription', { joined: false });
        break;
      case 'caption':
        this.emit('caption', msg);
        break;
      case 'bye':
        // While we knock, the join ends here: denied, or the meeting ended.
        if (this.joinWaiter) {
          this.joinWaiter.reject({ name: msg.reason || 'left', message: `bye: ${msg.reason}` });
          this.joinWaiter = null;
        }
        // 'moved': our node drains and the meeting goes on at another
        // one: join again, as after a lost session (the join answer
        // names that node).
        if (msg.reason === 'connection_lost' || msg.reason === 'moved') this.sessionLost();
        else this.end(msg.reason || 'left');
        break;
      case 'error':
        this.onError(msg);
        break;
      default:
        this.access.handle(msg);
        break;
    }
    this.emit('message', msg);
  }

  onError(msg) {
    if (this.pub && this.pub.handleError(msg)) return;
    if (this.joinWaiter && msg.ref === this.joinWaiter.ref) {
      this.joinWaiter.reject(msg);
      this.joinWaiter = null;
      return;
    }
    if (this.access.refused(msg)) return;
    switch (msg.code) {
      case Code.RATE_LIMITED:
        this.emit('notice', { key: 'rateLimited' });
        break;
      case Code.INVALID_CHAT:
        this.emit('notice', { key: 'chatInvalid' });
        break;
      case Code.NO_TRANSCRIPTION:
        this.transcriptionAvailable = false;
        this.emit('notice', { key: 'transcriptionUnavailable' });
        this.emit('transcription', { joined: false });
        break;
      default:
        console.warn('server error', msg.code, msg.name, msg.message);
    }
  }

  onJoined(msg) {
    setMeetingKey(msg.meeting_id, msg.meeting_key);
    this.selfId = msg.participant_id;
    this.token = msg.resume_token;
    this.participants = new Map((msg.participants || []).map((p) => [p.id, p]));
    this.tracks = new Map((msg.tracks || []).map((t) => [t.id, t]));
    this.activeSpeaker = msg.active_speaker || '';
    const self = this.participants.get(this.selfId);
    if (msg.meeting_id !== this.meetingId) this.transcriptSeen = false; // a new meeting in this room
    this.meetingId = msg.meeting_id || '';
    this.meetingStarted = msg.meeting_started ? new Date(msg.meeting_started) : null;
    this.transcriptionAvailable = !!msg.transcription_available;
    this.transcription = msg.transcription || { enabled: false };
    if (this.transcription.enabled) this.transcriptSeen = true;
    this.recordingAvailable = !!msg.recording_available;
    this.recording = msg.recording || { enabled: false };
    // Our transcription choices go before any track is published, so not
    // one word of someone who opted out is transcribed.
    if (this.optOut !== !!(self && self.transcription_opt_out)) this.send({ type: 'transcription_opt_out', opt_out: this.optOut });
    if (!this.captionsOn || msg.resumed) this.send({ type: 'captions', enabled: this.captionsOn });
    if (msg.resumed) {
      // The server kept our session: same peer connections, same tracks.
      for (const t of this.tracks.values()) {
        if (t.participant_id !== this.selfId || !this.pub) continue;
        const p = this.pub.bySource(t.source);
        if (p && !p.serverId) p.serverId = t.id; // its `published` was lost with the socket
        if (p && p.serverId === t.id && p.muted !== t.muted) this.sendMute(p);
        if (p && p.serverId === t.id && t.source === 'microphone') this.syncSharedMic(p, t);
      }
      if (this.pub) this.pub.resync();
      // After a stall the connections may still say "connected" while
      // their path is gone: restart them all.
      this.checkMedia(!this.stalled);
      this.stalled = false;
      if (self && self.hand_raised !== this.hand) this.send({ type: 'raise_hand', raised: this.hand });
    } else {
      this.newPeers(msg.ice_servers);
      this.publishAll();
      this.subs.clear();
      if (this.hand) this.send({ type: 'raise_hand', raised: true });
    }
    for (const [id, s] of this.subs) {
      if (this.tracks.has(id)) this.send({ type: 'subscription', track_id: id, layer: s.layer, paused: s.paused });
      else this.subs.delete(id);
    }
    this.emit('participants', {});
    this.emit('tracks', {});
    this.emit('speaker', { participantId: this.activeSpeaker, speaking: this.speaking });
    this.emit('local');
    this.emit('transcription', { joined: !msg.resumed });
    this.emit('recording', { joined: !msg.resumed });
    this.access.joined(msg);
  }

  newPeers(iceServers) {
    this.closePeers();
    this.pub = new Publisher(this.sig, iceServers);
    this.sub = new Subscriber(this.sig, iceServers);
    this.sub.addEventListener('tracks', () => this.emit('tracks', {}));
    // Encoding changes made while an offer was in flight may not survive
    // it: apply them again once it is answered.
    this.pub.addEventListener('negotiated', () => this.limitCamera());
    for (const [name, pc] of [['publisher', this.pub], ['subscriber', this.sub]]) {
      pc.addEventListener('connectionstatechange', () => this.peerState(name, pc));
    }
    this.watchStall();
    this.emit('media', { publisher: this.pub.state, subscriber: this.sub.state });
  }

  closePeers() {
    for (const t of this.restartTimers.values()) clearTimeout(t);
    this.restartTimers.clear();
    if (this.pub) this.pub.close();
    if (this.sub) this.sub.close();
    this.pub = null;
    this.sub = null;
  }

  // publishAll sends our current local tracks on a fresh publisher.
  publishAll() {
    const m = this.media;
    if (m.mic) {
      const p = this.pub.add(m.mic, 'microphone', { extra: micSharing(this.sharedMic) });
      p.muted = !m.micOn;
    }
    if (m.camera && m.cameraOn) this.pub.add(m.camera, 'camera', { simulcast: true });
    if (this.screen) {
      if (this.screen.video) this.pub.add(this.screen.video, 'screen');
      if (this.screen.audio) this.pub.add(this.screen.audio, 'screen_audio');
      this.limitCamera();
    }
  }

  onPublished(msg) {
    this.tracks.set(msg.track.id, msg.track);
    const retired = this.retired.find((p) => p.clientTrackId === msg.client_track_id);
    if (retired) {
      this.retired = this.retired.filter((p) => p !== retired);
      this.send({ type: 'unpublish', track_id: msg.track.id });
      return;
    }
    const p = this.pub && this.pub.pubs.find((x) => x.clientTrackId === msg.client_track_id);
    if (p) {
      p.serverId = msg.track.id;
      if (p.muted !== msg.track.muted) this.sendMute(p);
      if (p.source === 'microphone') this.syncSharedMic(p, msg.track);
    }
    this.emit('tracks', { participantId: this.selfId });
    this.emit('local');
  }

  // sendMute tells the server a track's state; the ref tells a refusal
  // (4040: a moderator muted us) apart from other errors.
  sendMute(p) {
    if (p.serverId) this.send({ type: 'mute', track_id: p.serverId, muted: p.muted, ref: `mute-${++this.refSeq}` });
  }

  // holdMic turns our microphone off here: the server has muted it.
  holdMic() {
    this.media.setMicOn(false);
    const p = this.pub && this.pub.bySource('microphone');
    if (p) p.muted = true;
    this.emit('local');
  }

  // stopCameraByServer turns our camera off after a moderator ended its
  // track at the server: the publication goes without an `unpublish`.
  async stopCameraByServer() {
    const p = this.pub && this.pub.bySource('camera');
    if (p) this.pub.remove(p);
    await this.media.setCameraOn(false);
    this.emit('local');
  }

  removeParticipant(id, reason) {
    if (!this.participants.has(id)) return;
    const info = this.participants.get(id);
    this.participants.delete(id);
    for (const [tid, t] of this.tracks) {
      if (t.participant_id === id) {
        this.tracks.delete(tid);
        this.subs.delete(tid);
      }
    }
    this.emit('participants', { left: id, info, reason });
    this.emit('tracks', { participantId: id });
  }

  // ---- our own media ----

  get micOn() { return !!this.media.mic && this.media.micOn; }
  get cameraOn() { return !!this.media.camera && this.media.cameraOn; }
  get sharing() { return !!this.screen; }

  async setMic(on) {
    if (on && this.access.speakHeld) {
      this.emit('notice', { key: 'speakNotAllowed' });
      this.emit('local');
      return;
    }
    if (on && !this.media.mic) {
      const track = await this.media.openMic();
      if (!track) {
        this.emit('notice', { key: 'micUnavailable', params: { error: this.media.errors.audio } });
        this.emit('local');
        return;
      }
      if (this.pub) this.pub.add(track, 'microphone', { extra: micSharing(this.sharedMic) });
    }
    this.media.setMicOn(on);
    const p = this.pub && this.pub.bySource('microphone');
    if (p) {
      if (p.track !== this.media.mic && this.media.mic) {
        await p.transceiver.sender.replaceTrack(this.media.mic);
        p.track = this.media.mic;
      }
      p.muted = !on;
      this.sendMute(p);
    }
    this.emit('local');
  }

  async setCamera(on) {
    let p = this.pub && this.pub.bySource('camera');
    if (on) {
      const track = await this.media.setCameraOn(true);
      if (!track) {
        this.emit('notice', { key: 'cameraUnavailable', params: { error: this.media.errors.video } });
        this.emit('local');
        return;
      }
      if (p) {
        await p.transceiver.sender.replaceTrack(track);
        p.track = track;
        p.muted = false;
        this.sendMute(p);
      } else if (this.pub) {
        p = this.pub.add(track, 'camera', { simulcast: true });
        if (this.screen) this.limitCamera();
      }
    } else {
      if (p) {
        await p.transceiver.sender.replaceTrack(null);
        p.muted = true;
        this.sendMute(p);
      }
      await this.media.setCameraOn(false);
    }
    this.emit('local');
  }

  // replaceDevice switches a published track to the newly chosen device.
  async replaceDevice(kind) {
    const source = kind === 'audioinput' ? 'microphone' : 'camera';
    const track = kind === 'audioinput' ? this.media.mic : this.media.camera;
    const p = this.pub && this.pub.bySource(source);
    if (p && track && p.track !== track) {
      await p.transceiver.sender.replaceTrack(p.muted && source === 'camera' ? null : track);
      p.track = track;
    }
    this.emit('local');
  }

  async startScreenShare() {
    if (this.screen) return;
    let cap;
    try {
      cap = await captureScreen();
    } catch (err) {
      if (err && err.name !== 'NotAllowedError') this.emit('notice', { key: 'screenShareFailed' });
      return; // cancelled in the browser's picker
    }
    if (!cap.video) return;
    if (!canShareScreenAudio()) this.emit('notice', { key: 'screenNoAudio' });
    this.screen = cap;
    cap.video.addEventListener('ended', () => this.stopScreenShare());
    if (this.pub) {
      this.pub.add(cap.video, 'screen');
      if (cap.audio) this.pub.add(cap.audio, 'screen_audio');
    }
    this.limitCamera();
    this.emit('local');
  }

  // limitCamera sends the camera's simulcast layers the server asks for
  // (`layers`: those someone watches), and never the top one while we
  // share a screen (the screen needs the uplink more).
  limitCamera() {
    const cam = this.pub && this.pub.bySource('camera');
    if (!cam) return;
    const wanted = cam.serverId && this.layersWanted.get(cam.serverId);
    setLayers(cam.transceiver.sender, (rid) => (!wanted || wanted.has(rid)) && !(this.screen && rid === 'f'));
  }

  onLayers(msg) {
    if (!Array.isArray(msg.rids)) return;
    this.layersWanted.set(msg.track_id, new Set(msg.rids));
    this.limitCamera();
  }

  // stopScreenShare ends our screen share; byServer: a moderator ended
  // its tracks at the server already.
  stopScreenShare({ byServer = false } = {}) {
    if (!this.screen) return;
    const cap = this.screen;
    this.screen = null;
    for (const source of ['screen', 'screen_audio']) {
      const p = this.pub && this.pub.bySource(source);
      if (!p) continue;
      if (!byServer && p.serverId) this.send({ type: 'unpublish', track_id: p.serverId });
      else if (!byServer) this.retired.push(p);
      this.pub.remove(p);
    }
    if (cap.video) cap.video.stop();
    if (cap.audio) cap.audio.stop();
    this.limitCamera();
    this.emit('local');
  }

  setHand(raised) {
    this.hand = raised;
    this.send({ type: 'raise_hand', raised });
    this.emit('local');
  }

  react(emoji) { this.send({ type: 'reaction', emoji }); }

  // ---- transcription ----

  // setTranscription asks the server to turn the meeting's transcription
  // on or off for everyone; its `transcription` event tells the result.
  setTranscription(enabled) { return this.send({ type: 'transcription', enabled }); }

  // setRecording asks the server to start or stop recording the meeting
  // (moderators only); its `recording` event tells everyone.
  setRecording(enabled) { return this.send({ type: 'recording', enabled }); }

  // recordingURL is where a moderator downloads the meeting's recording
  // (a ZIP of its files and manifest) once it has stopped.
  recordingURL() {
    const key = meetingKey(this.meetingId);
    return `/api/meetings/${encodeURIComponent(this.meetingId)}/recording` + (key ? `?key=${encodeURIComponent(key)}` : '');
  }

  // setOptOut stops (or resumes) the transcription of our own voice.
  setOptOut(out) {
    this.optOut = out;
    this.send({ type: 'transcription_opt_out', opt_out: out });
    this.emit('local');
  }

  // setCaptions: whether the server sends us live captions.
  setCaptions(on) {
    this.captionsOn = on;
    this.send({ type: 'captions', enabled: on });
    this.emit('captions', { on });
  }

  // setSharedMic marks our microphone as heard by several people (a
  // meeting room): after the meeting the transcript tells them apart.
  setSharedMic(shared, speakers = 0) {
    this.sharedMic = { shared: !!shared, speakers: shared ? speakers || 0 : 0 };
    const p = this.pub && this.pub.bySource('microphone');
    if (p) {
      p.extra = micSharing(this.sharedMic);
      if (p.serverId) this.sendSharedMic(p);
    }
    this.emit('local');
  }

  sendSharedMic(p) {
    const f = micSharing(this.sharedMic);
    const m = { type: 'shared_mic', track_id: p.serverId, shared: f.shared_mic };
    if (f.speakers) m.speakers = f.speakers;
    this.send(m);
  }

  // syncSharedMic corrects the server when its idea of our microphone
  // differs from ours (changed while the offer or the socket was away).
  syncSharedMic(p, info) {
    const want = micSharing(this.sharedMic);
    if (!!info.shared_mic !== want.shared_mic || (want.shared_mic && (info.speakers || 0) !== (want.speakers || 0))) this.sendSharedMic(p);
  }

  // transcriptURL is where this meeting's transcript is downloaded.
  transcriptURL(format) { return transcriptURL(this.meetingId, format); }

  // sendChat returns false when the text is empty or the socket is down.
  sendChat(text) {
    const t = text.trim();
    if (!t) return false;
    return this.send({ type: 'chat', text: t });
  }

  // subscribe tells the server what we want of someone's track (layer
  // low/medium/high, paused when not on screen), only when it changes.
  subscribe(trackId, layer, paused) {
    const last = this.subs.get(trackId);
    if (last && last.layer === layer && last.paused === paused) return;
    this.subs.set(trackId, { layer, paused });
    this.send({ type: 'subscription', track_id: trackId, layer, paused });
  }

  // remoteTrack returns the MediaStreamTrack carrying a server track.
  remoteTrack(trackId) { return this.sub ? this.sub.track(trackId) : null; }
  remoteReceiver(trackId) { return this.sub ? this.sub.receiver(trackId) : null; }

  // tracksOf lists the track infos of a participant, by source.
  tracksOf(participantId) {
    const out = {};
    for (const t of this.tracks.values()) if (t.participant_id === participantId) out[t.source] = t;
    return out;
  }

  // ---- resilience ----

  peerState(name, pc) {
    const st = pc.state;
    this.emit('media', { publisher: this.pub && this.pub.state, subscriber: this.sub && this.sub.state });
    clearTimeout(this.restartTimers.get(name));
    this.restartTimers.delete(name);
    // Media stalled: the signalling path may be dead as well (our
    // address changed), and resuming on a new socket comes first.
    if (st === 'failed' || st === 'disconnected') this.sig.probe();
    if (st === 'failed') this.restartIce(name);
    else if (st === 'disconnected') {
      this.restartTimers.set(name, setTimeout(() => this.restartIce(name), DISCONNECTED_GRACE_MS));
    }
  }

  // watchStall checks once a second that the subscriber connection still
  // receives; when it stops, the socket is probed (see STALL_MS).
  watchStall() {
    clearInterval(this.stallTimer);
    let last = -1;
    let since = performance.now();
    this.stallTimer = setInterval(async () => {
      const sub = this.sub;
      // Measured while reconnecting too: media that flows again by itself
      // (a short outage) needs no ICE restart once the socket is back.
      if (!sub || this.state === State.ENDED) return;
      let bytes = 0;
      try {
        (await sub.pc.getStats()).forEach((s) => { if (s.type === 'transport') bytes += s.bytesReceived || 0; });
      } catch { return; }
      const now = performance.now();
      if (bytes !== last) {
        if (last >= 0 && this.stalled) this.stalled = false; // flowing again by itself
        last = bytes;
        since = now;
        return;
      }
      if (bytes > 0 && now - since >= STALL_MS && !this.stalled && this.state === State.CONNECTED) {
        this.stalled = true;
        this.sig.probe();
      }
    }, STALL_CHECK_MS);
  }

  restartIce(name) {
    if (this.state === State.ENDED || !this.sig.isOpen) return; // done after reconnecting
    if (name === 'publisher' && this.pub) this.pub.restartIce();
    if (name === 'subscriber' && this.sub) this.sub.restartIce();
  }

  // checkMedia restarts ICE on connections that are not up (after a
  // resume, or when the network changed).
  checkMedia(onlyBroken) {
    for (const [name, pc] of [['publisher', this.pub], ['subscriber', this.sub]]) {
      if (!pc) continue;
      const broken = pc.state === 'failed' || pc.state === 'disconnected';
      if (broken || (!onlyBroken && pc.state !== 'new')) this.restartIce(name);
    }
  }

  networkChanged() {
    if (this.state === State.RECONNECTING) this.wake && this.wake();
    else if (this.state === State.CONNECTED) {
      this.sig.probe(); // the socket may have gone with the old network
      this.checkMedia(false);
    }
  }

  onSocketLost() {
    if (this.state === State.ENDED) return;
    if (this.pub) this.pub.socketLost();
    if (this.joinWaiter) {
      this.joinWaiter.reject({ name: 'unreachable', message: 'socket closed' });
      this.joinWaiter = null;
    }
    if (this.state === State.CONNECTING) return; // start() reports it
    this.setState(State.RECONNECTING);
    this.reconnect();
  }

  // sessionLost: the server removed us (our media was down for its peer
  // timeout) though the socket was up. Join again, as after an outage.
  sessionLost() {
    if (this.state === State.ENDED) return;
    this.token = '';
    this.closePeers();
    this.sig.drop();
  }

  async reconnect() {
    if (this.reconnecting) return;
    this.reconnecting = true;
    const since = performance.now();
    let delay = 250;
    try {
      while (this.state === State.RECONNECTING) {
        if (await this.tryResume()) {
          this.setState(State.CONNECTED);
          this.emit('notice', { key: 'reconnected' });
          return;
        }
        if (performance.now() - since > GIVE_UP_MS) {
          this.end('connection_lost');
          return;
        }
        await new Promise((r) => {
          this.wake = r;
          setTimeout(r, delay + Math.random() * delay * 0.3);
        });
        this.wake = null;
        delay = Math.min(delay * 2, 4_000);
      }
    } finally {
      this.reconnecting = false;
    }
  }

  // tryResume opens a socket and resumes the session, or joins afresh when
  // the server no longer knows it. It returns true once back in the room.
  async tryResume() {
    try {
      await this.sig.open();
    } catch {
      // With several nodes, the one that held the room may be gone: ask
      // (any node, through our own origin) where it lives now, and join
      // there afresh.
      try {
        await this.join(await this.tokenJoin());
        return true;
      } catch {
        return false;
      }
    }
    if (this.token) {
      try {
        await this.join({ type: 'join', resume_token: this.token });
        return true;
      } catch (err) {
        if (err.code !== Code.RESUME_FAILED) return false;
      }
    }
    // Our old session is gone (removed after the peer timeout): join again
    // on this socket, with new peer connections.
    try {
      await this.join(await this.tokenJoin());
      return true;
    } catch (err) {
      if (err.code === Code.ROOM_FULL || err.code === Code.SHUTTING_DOWN) {
        this.end(err.code === Code.ROOM_FULL ? 'room_full' : 'server_shutdown');
      }
      return false;
    }
  }

  leave() {
    if (this.state === State.ENDED) return;
    this.send({ type: 'leave' });
    this.end('left');
  }

  end(reason) {
    if (this.state === State.ENDED) return;
    if (this.joinWaiter) {
      // We left the lobby (or the server ended it): the join is over.
      this.joinWaiter.reject({ name: reason, message: `ended: ${reason}` });
      this.joinWaiter = null;
    }
    if (this.screen) this.stopScreenShare();
    this.closePeers();
    this.sig.close();
    clearInterval(this.stallTimer);
    window.removeEventListener('online', this.onOnline);
    if (navigator.connection) navigator.connection.removeEventListener('change', this.onOnline);
    this.setState(State.ENDED, reason);
  }
}
