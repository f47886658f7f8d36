// Device pickers: <select> elements for camera, microphone and speaker,
// shared by the pre-join page and the settings dialog.

import { t, onLanguage } from './i18n.js';

const KINDS = { audioinput: 'microphone', videoinput: 'camera', audiooutput: 'speaker' };

// speakerChoice reports whether the browser can route audio to a chosen
// output (HTMLMediaElement.setSinkId; not in every browser).
export const speakerChoice = typeof HTMLMediaElement !== 'undefined' && 'setSinkId' in HTMLMediaElement.prototype;

// bindDevicePickers keeps the selects in sync with media's devices and
// calls onChoose(kind) after the user picked one.
export function bindDevicePickers(media, selects, onChoose = () => {}) {
  const fill = () => {
    for (const [kind, select] of Object.entries(selects)) {
      if (!select) continue;
      const list = media.devices[kind] || [];
      while (select.firstChild) select.firstChild.remove();
      if (list.length === 0) {
        const o = document.createElement('option');
        o.value = '';
        o.textContent = kind === 'audiooutput' ? t('systemDefault') : t('noDevice');
        select.append(o);
        select.disabled = true;
        continue;
      }
      select.disabled = false;
      list.forEach((d, i) => {
        const o = document.createElement('option');
        o.value = d.deviceId;
        // Labels are empty until the user allowed a device.
        o.textContent = d.label || `${t(KINDS[kind])} ${i + 1}`;
        select.append(o);
      });
      const cur = media.currentDevice(kind);
      if (cur && list.some((d) => d.deviceId === cur)) select.value = cur;
    }
    for (const el of document.querySelectorAll('.speaker-only')) el.hidden = !speakerChoice;
  };
  for (const [kind, select] of Object.entries(selects)) {
    if (!select) continue;
    select.addEventListener('change', async () => {
      await media.choose(kind, select.value);
      onChoose(kind);
    });
  }
  media.addEventListener('devices', fill);
  media.addEventListener('change', fill);
  onLanguage(fill);
  fill();
}
