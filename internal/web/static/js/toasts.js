// Toasts: short notices at the bottom of the meeting ("Ada joined",
// "Link copied"), read by screen readers through the polite live region
// they live in.

import { $, el } from './dom.js';

const TOAST_MS = 5_000;
const MAX_TOASTS = 4;

export function toast(text) {
  const root = $('#toasts');
  if (!root) return;
  const item = el('div', { class: 'toast' }, text);
  root.append(item);
  while (root.children.length > MAX_TOASTS) root.firstChild.remove();
  setTimeout(() => item.remove(), TOAST_MS);
}
