// Knock: the screen of someone who must wait for a moderator to let them
// in (the server answered `join` with `lobby`). The page waits there,
// without a time limit, until it is admitted (the meeting opens), denied
// or the meeting ends (the end screen says so), or the person leaves
// (back to the pre-join page). Leaving closes the session, which takes
// them out of the lobby.

import { $ } from './dom.js';
import { t, onLanguage } from './i18n.js';

// The status is set this long after the screen shows, so that screen
// readers announce it as a change of the live region.
const ANNOUNCE_MS = 150;

export class Knock {
  constructor(roomId) {
    this.section = $('#knock');
    this.status = $('#knock-status');
    this.leaveBtn = $('#knock-leave');
    this.room = null;
    $('#knock-room').textContent = roomId;
    this.leaveBtn.addEventListener('click', () => {
      if (this.room) this.room.leave();
    });
    onLanguage(() => { if (this.room) this.status.textContent = t('knockStatus'); });
  }

  // show replaces the pre-join page while room knocks.
  show(room) {
    this.room = room;
    $('#prejoin').hidden = true;
    this.section.hidden = false;
    this.status.textContent = '';
    setTimeout(() => { if (this.room === room) this.status.textContent = t('knockStatus'); }, ANNOUNCE_MS);
    $('#knock-title').focus();
    document.title = `${t('knockTitle')} · Parley`;
  }

  // hide ends the wait; back says whether the pre-join page returns.
  hide(back) {
    if (!this.room) return;
    this.room = null;
    this.section.hidden = true;
    this.status.textContent = '';
    if (back) {
      $('#prejoin').hidden = false;
      document.title = 'Parley';
      $('#display-name').focus();
    }
  }
}
