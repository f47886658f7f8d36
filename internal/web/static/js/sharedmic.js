// Shared microphone: one microphone that hears several people, as in a
// meeting room. The person who joins from that room says so (pre-join, or
// in the settings dialog during the meeting), optionally with how many
// people are there; the server then tells the voices apart in the
// transcript after the meeting ("<name> · speaker 2"), and the others see
// it on the tile. The choice is remembered on this browser: a room's
// computer stays in its room.

import { $ } from './dom.js';
import { MAX_MIC_SPEAKERS } from './room.js';
import { store } from './storage.js';

// speakersOf reads a people count: 2 to 20, else 0 (unknown: the server
// estimates it).
export function speakersOf(value) {
  const n = Number(value);
  return Number.isInteger(n) && n >= 2 && n <= MAX_MIC_SPEAKERS ? n : 0;
}

export function loadSharedMic() {
  const v = store.get('sharedMic', null);
  if (!v || typeof v !== 'object') return { shared: false, speakers: 0 };
  return { shared: !!v.shared, speakers: speakersOf(v.speakers) };
}

// bindSharedMic ties a checkbox and a people count to a value: change
// calls onChange({shared, speakers}) and remembers it. It returns a
// function that shows another value.
export function bindSharedMic({ box, count, row }, value, onChange) {
  const show = (v) => {
    box.checked = v.shared;
    if (document.activeElement !== count) count.value = v.speakers ? String(v.speakers) : '';
    row.hidden = !v.shared;
  };
  show(value);
  const changed = () => {
    const v = { shared: box.checked, speakers: box.checked ? speakersOf(count.value) : 0 };
    row.hidden = !v.shared;
    store.set('sharedMic', v);
    onChange(v);
  };
  box.addEventListener('change', changed);
  count.addEventListener('change', changed);
  return show;
}

// mountSharedMic is the plug-in for meeting.js's MODULES: the settings
// dialog's shared-microphone choice.
export function mountSharedMic({ room }) {
  const section = $('#settings-shared');
  const show = bindSharedMic({ box: $('#settings-shared-mic'), count: $('#settings-speakers'), row: $('#settings-speakers-row') },
    room.sharedMic, (v) => room.setSharedMic(v.shared, v.speakers));
  const render = () => {
    section.hidden = !room.media.mic;
    show(room.sharedMic);
  };
  room.addEventListener('local', render);
  render();
}
