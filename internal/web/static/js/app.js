// Entry point of the meeting page (/{room}): pre-join, then the meeting.

import { $ } from './dom.js';
import { translate, bindLanguageSelect } from './i18n.js';
import { LocalMedia } from './media.js';
import { Prejoin } from './prejoin.js';
import { Room, Code } from './room.js';
import { mountMeeting, showEnded, MODULES } from './meeting.js';
import { Knock } from './knock.js';
import { mountCaptions } from './captions.js';
import { mountTranscription } from './transcription.js';
import { mountRecording } from './recording.js';
import { mountSharedMic } from './sharedmic.js';
import { store } from './storage.js';
import { mountRoomSettings } from './roomsettings.js';
import { mountAccount } from './account.js';
import { getSession } from './api.js';

const roomId = decodeURIComponent(window.location.pathname.replace(/^\/+|\/+$/g, ''));

translate();
bindLanguageSelect($('#language'));
MODULES.push(mountCaptions, mountTranscription, mountRecording, mountSharedMic);
MODULES.push(mountRoomSettings);

// The waits in the lobby that end with the end screen rather than back
// on the pre-join page (a `bye` reason while knocking).
const KNOCK_ENDS = new Set(['denied', 'ended', 'removed']);

const media = new LocalMedia();
const knock = new Knock(roomId);
const prejoin = new Prejoin(media, roomId, { onJoin: join });
// Who is signed in (oidc mode): the top bar's account corner, and the
// pre-join name, which is then the provider's.
getSession().then((session) => {
  mountAccount($('#account'), session);
  prejoin.useSession(session);
}).catch((err) => console.warn('session', err));
// Devices open while the person types their name; joining waits for them
// so the first offer carries the camera and microphone.
let mediaPending = true;
const mediaReady = media.start().finally(() => { mediaPending = false; });

// join enters the meeting; it returns the key of an error to show on the
// pre-join page, or nothing.
async function join(name, { optOut, sharedMic }) {
  if (mediaPending) prejoin.waiting();
  await mediaReady;
  const room = new Room({ roomId, name, media, optOut, sharedMic, captions: store.get('captions', true) });
  room.addEventListener('lobby', () => knock.show(room));
  try {
    await room.start();
  } catch (err) {
    if (KNOCK_ENDS.has(err.wire) && !err.code) {
      knock.hide(false);
      prejoin.hide();
      media.stop();
      showEnded(err.wire);
      return '';
    }
    knock.hide(true);
    if (err.wire === 'left') return 'knockLeft';
    switch (err.code) {
      case Code.REMOVED: return 'joinRemoved';
      case Code.INVALID_NAME: return 'nameInvalid';
      case Code.ROOM_FULL: return 'roomFull';
      case Code.SHUTTING_DOWN: return 'serverDraining';
      case Code.INVALID_ROOM: return 'roomInvalid';
      default: return err.wire === 'unreachable' || err.wire === 'timeout' ? 'serverUnreachable' : 'joinFailed';
    }
  }
  knock.hide(false);
  prejoin.hide();
  mountMeeting(room, media);
  return '';
}
