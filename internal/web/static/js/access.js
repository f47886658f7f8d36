// Access: this browser's side of the access model (docs/protocol.md):
// our role, the room's settings, who knocks at the lobby (told to
// moderators only), and what a moderator did to us. The server decides
// and enforces all of it; this keeps what it said for the views, sends a
// moderator's requests, and turns our own media off when a moderator
// did. Events, on the Room:
//
//   waiting    {added}   who waits in the lobby changed; added: the newcomers
//   settings   {}        the room's settings changed (locked, speak_moderated, …)
//   role       {}        our role changed (promoted, demoted)
//   moderated  server `moderated` message, after it was applied

import { Code } from './room.js';

export const Role = Object.freeze({
  OWNER: 'owner',
  MODERATOR: 'moderator',
  PARTICIPANT: 'participant',
  GUEST: 'guest',
});

// moderates: the owner and moderators may moderate.
export const moderates = (role) => role === Role.OWNER || role === Role.MODERATOR;

export class Access {
  constructor(room) {
    this.room = room;
    this.role = '';
    this.settings = {};
    this.lobby = []; // [{id, name, guest}]
    // A moderator muted us: with speak_moderated on we may not unmute
    // until one allows it (the server refuses with 4040 anyway).
    this.mutedByModerator = false;
    this.endedMeeting = false; // we asked to end it for everyone
  }

  get moderates() { return moderates(this.role); }
  get isOwner() { return this.role === Role.OWNER; }
  get speakHeld() { return this.mutedByModerator && !!this.settings.speak_moderated && !this.moderates; }

  // joined takes the access fields of `joined`.
  joined(msg) {
    if (msg.role) this.setRole(msg.role);
    this.settings = msg.settings || {};
    this.room.emit('settings');
    this.setLobby(msg.lobby || []);
  }

  // handle takes the server messages of the access model.
  handle(msg) {
    switch (msg.type) {
      case 'lobby_changed':
        this.setLobby(msg.waiting);
        break;
      case 'room_settings':
        this.settings = { access: msg.access, locked: !!msg.locked, transcription_by: msg.transcription_by, speak_moderated: !!msg.speak_moderated };
        this.room.emit('settings');
        break;
      case 'moderated':
        this.moderated(msg);
        break;
      default:
        break;
    }
  }

  setRole(role) {
    if (!role || role === this.role) return;
    this.role = role;
    if (!this.moderates) this.lobby = [];
    this.room.emit('role');
  }

  // setLobby takes the list of people waiting; `added` are those not
  // waiting before, so a moderator is alerted of each person once.
  setLobby(waiting) {
    const before = new Set(this.lobby.map((w) => w.id));
    this.lobby = Array.isArray(waiting) ? waiting : [];
    this.room.emit('waiting', { added: this.lobby.filter((w) => !before.has(w.id)) });
  }

  // moderate sends a moderator's action (docs/protocol.md, `moderate`):
  // the server checks our role and carries it out; only errors answer.
  // Without a participant id, admit and deny apply to the whole lobby.
  moderate(action, participantId = '', fields = {}) {
    const m = { type: 'moderate', action, ...fields, ref: `mod-${++this.room.refSeq}` };
    if (participantId) m.participant_id = participantId;
    if (action === 'end') this.endedMeeting = true;
    return this.room.send(m);
  }

  // moderated applies what a moderator did to us. The server has done it
  // already (muted our track, ended our camera), so nothing goes back.
  moderated(msg) {
    const r = this.room;
    const params = { name: msg.by_name || '' };
    switch (msg.action) {
      case 'mute':
        this.mutedByModerator = true;
        r.holdMic();
        r.emit('notice', { key: 'mutedBy', params });
        break;
      case 'allow_speak':
        this.mutedByModerator = false;
        r.emit('notice', { key: 'allowedToSpeakBy', params });
        break;
      case 'stop_camera':
        r.stopCameraByServer();
        r.emit('notice', { key: 'cameraStoppedBy', params });
        break;
      case 'stop_screen':
        r.stopScreenShare({ byServer: true });
        r.emit('notice', { key: 'screenStoppedBy', params });
        break;
      case 'promote':
        r.emit('notice', { key: 'promotedBy', params });
        break;
      case 'demote':
        r.emit('notice', { key: 'demotedBy', params });
        break;
      default:
        break;
    }
    r.emit('moderated', msg);
  }

  // refused handles the errors that answer our own access requests; it
  // returns true when msg was one.
  refused(msg) {
    const ref = String(msg.ref || '');
    if (msg.code === Code.NOT_ALLOWED && ref.startsWith('mute-')) {
      // We unmuted after a moderator's mute in a speak_moderated room.
      this.mutedByModerator = true;
      this.room.holdMic();
      this.room.emit('notice', { key: 'speakNotAllowed' });
      return true;
    }
    if (!ref.startsWith('mod-')) return false;
    if (msg.code === Code.NO_SUCH_PARTICIPANT) this.room.emit('notice', { key: 'noSuchParticipant' });
    else this.room.emit('notice', { key: 'moderationRefused' });
    return true;
  }
}
