// Small DOM helpers. Everything the page shows is built with DOM APIs
// and textContent: no HTML string is ever parsed, so text from other
// participants (names, chat) cannot become markup.

// el creates an element. attrs: "class", "text", "dataset" (object),
// "on" (object of listeners), any other key is set as an attribute
// (false/null/undefined skip it). Children: nodes or strings (as text).
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v === null || v === undefined) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k === 'on') for (const [ev, fn] of Object.entries(v)) e.addEventListener(ev, fn);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    e.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return e;
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

export function clear(node) {
  while (node.firstChild) node.firstChild.remove();
}

// Icons: 24x24 line drawings, built as SVG elements (no markup parsing).
const PATHS = {
  mic: ['M12 3a3 3 0 0 0-3 3v6a3 3 0 0 0 6 0V6a3 3 0 0 0-3-3z', 'M5 11a7 7 0 0 0 14 0', 'M12 18v3'],
  micOff: ['M12 3a3 3 0 0 0-3 3v6a3 3 0 0 0 6 0V6a3 3 0 0 0-3-3z', 'M5 11a7 7 0 0 0 14 0', 'M12 18v3', 'M3 3l18 18'],
  camera: ['M3 7h12v10H3z', 'M15 10.5l6-3.5v10l-6-3.5'],
  cameraOff: ['M3 7h12v10H3z', 'M15 10.5l6-3.5v10l-6-3.5', 'M3 3l18 18'],
  screen: ['M3 4h18v12H3z', 'M8 20h8', 'M12 16v4'],
  screenStop: ['M3 4h18v12H3z', 'M8 20h8', 'M12 16v4', 'M9 7l6 6', 'M15 7l-6 6'],
  hand: ['M8 13V6a1.5 1.5 0 0 1 3 0v5', 'M11 10V4.5a1.5 1.5 0 0 1 3 0V10', 'M14 10V6a1.5 1.5 0 0 1 3 0v8a6 6 0 0 1-6 6h-.5a6 6 0 0 1-5-2.7L3.2 13.6a1.5 1.5 0 0 1 2.5-1.7L8 14.5'],
  smile: ['M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18z', 'M8 14.5s1.5 2 4 2 4-2 4-2', 'M9 9.5h.01', 'M15 9.5h.01'],
  chat: ['M4 5h16v11H9l-5 4z'],
  people: ['M9 11a3.5 3.5 0 1 0 0-7 3.5 3.5 0 0 0 0 7z', 'M2.5 20a6.5 6.5 0 0 1 13 0', 'M16.5 11a3 3 0 1 0 0-6', 'M18 14.5a5.5 5.5 0 0 1 3.5 5.5'],
  leave: ['M3 14.5c5-5 13-5 18 0l-2.3 2.6-3.7-1.3v-2.5a10 10 0 0 0-6 0v2.5l-3.7 1.3z'],
  grid: ['M4 4h7v7H4z', 'M13 4h7v7h-7z', 'M4 13h7v7H4z', 'M13 13h7v7h-7z'],
  speaker: ['M3 4h18v11H3z', 'M4 18h4v2H4z', 'M10 18h4v2h-4z', 'M16 18h4v2h-4z'],
  gear: ['M12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6z', 'M12 2v3', 'M12 19v3', 'M2 12h3', 'M19 12h3', 'M4.9 4.9L7 7', 'M17 17l2.1 2.1', 'M4.9 19.1L7 17', 'M17 7l2.1-2.1'],
  keyboard: ['M2 6h20v12H2z', 'M6 10h.01', 'M10 10h.01', 'M14 10h.01', 'M18 10h.01', 'M7 14h10'],
  pin: ['M9 3h6l-1 6 3 3H7l3-3z', 'M12 12v9'],
  left: ['M15 5l-7 7 7 7'],
  right: ['M9 5l7 7-7 7'],
  close: ['M6 6l12 12', 'M18 6L6 18'],
  link: ['M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1 1', 'M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1-1'],
  captions: ['M3 5h18v14H3z', 'M10.5 9.8a2.5 2.5 0 1 0 0 4.4', 'M17 9.8a2.5 2.5 0 1 0 0 4.4'],
  transcript: ['M6 3h9l4 4v14H6z', 'M14 3v5h5', 'M9 12h7', 'M9 16h7'],
  record: ['M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18z', 'M12 8a4 4 0 1 0 0 8a4 4 0 1 0 0-8z'],
  download: ['M12 4v11', 'M7 10l5 5 5-5', 'M5 20h14'],
  door: ['M6 21V4h12v17', 'M3 21h18', 'M14.5 12.5h.01'],
  more: ['M12 5.5h.01', 'M12 12h.01', 'M12 18.5h.01'],
  shield: ['M12 3l8 3v6c0 4.5-3.4 8-8 9-4.6-1-8-4.5-8-9V6z', 'M9 12l2 2 4-4'],
};

const SVG = 'http://www.w3.org/2000/svg';

export function icon(name) {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('width', '24');
  svg.setAttribute('height', '24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.setAttribute('class', 'icon');
  for (const d of PATHS[name] || []) {
    const p = document.createElementNS(SVG, 'path');
    p.setAttribute('d', d);
    svg.append(p);
  }
  return svg;
}

// setButton gives a button an icon, a visible label (hidden on narrow
// screens by CSS) and the same text as its accessible name.
export function setButton(btn, iconName, label, { tooltip = label } = {}) {
  clear(btn);
  btn.append(icon(iconName), el('span', { class: 'ctl__label', text: label }));
  btn.setAttribute('aria-label', label);
  if (tooltip) btn.title = tooltip;
}

// setIconButton gives an icon-only button its icon and accessible name.
export function setIconButton(btn, iconName, label) {
  clear(btn);
  btn.append(icon(iconName));
  btn.setAttribute('aria-label', label);
  btn.title = label;
}

// initials turns "Ada Lovelace" into "AL" for the camera-off avatar.
export function initials(name) {
  const parts = String(name || '?').trim().split(/\s+/).filter(Boolean);
  const first = parts[0] ? Array.from(parts[0])[0] : '?';
  const last = parts.length > 1 ? Array.from(parts[parts.length - 1])[0] : '';
  return (first + last).toUpperCase();
}

// hue picks a stable avatar colour from a participant id.
export function hue(id) {
  let h = 0;
  for (const ch of String(id)) h = (h * 31 + ch.codePointAt(0)) % 360;
  return h;
}
