// Languages: every string the page shows comes from the one table in
// strings.js, in English and French. The language is the user's choice
// (remembered), else the browser's, else English.
//
// Static markup names its strings with attributes the page translates:
//   data-i18n="key"              text content
//   data-i18n-label="key"        aria-label
//   data-i18n-title="key"        title
//   data-i18n-placeholder="key"  placeholder

import { STRINGS } from './strings.js';
import { store } from './storage.js';

export const LANGUAGES = [
  { code: 'en', name: 'English' },
  { code: 'fr', name: 'Français' },
];

let lang = pick();

function pick() {
  const saved = store.get('lang', '');
  if (STRINGS[saved]) return saved;
  for (const l of navigator.languages || [navigator.language || 'en']) {
    const base = String(l).toLowerCase().split('-')[0];
    if (STRINGS[base]) return base;
  }
  return 'en';
}

export function language() { return lang; }

// t returns the string for key with {name} placeholders filled.
export function t(key, params = {}) {
  let s = STRINGS[lang][key];
  if (s === undefined) s = STRINGS.en[key];
  if (s === undefined) {
    console.warn('i18n: missing string', key);
    return key;
  }
  return s.replace(/\{(\w+)\}/g, (m, k) => (params[k] !== undefined ? String(params[k]) : m));
}

// plural picks key_one or key_other by count.
export function tn(key, count, params = {}) {
  const rule = new Intl.PluralRules(lang).select(count);
  return t(`${key}_${rule === 'one' ? 'one' : 'other'}`, { count, ...params });
}

export function translate(root = document) {
  document.documentElement.lang = lang;
  for (const e of root.querySelectorAll('[data-i18n]')) e.textContent = t(e.dataset.i18n);
  for (const e of root.querySelectorAll('[data-i18n-label]')) e.setAttribute('aria-label', t(e.dataset.i18nLabel));
  for (const e of root.querySelectorAll('[data-i18n-title]')) e.title = t(e.dataset.i18nTitle);
  for (const e of root.querySelectorAll('[data-i18n-placeholder]')) e.placeholder = t(e.dataset.i18nPlaceholder);
}

// setLanguage switches the page and tells dynamic views ('languagechange'
// on window) to redraw their strings.
export function setLanguage(code) {
  if (!STRINGS[code] || code === lang) return;
  lang = code;
  store.set('lang', code);
  translate();
  window.dispatchEvent(new CustomEvent('parley:language', { detail: { lang } }));
}

export function onLanguage(fn) { window.addEventListener('parley:language', fn); }

// bindLanguageSelect fills a <select> with the languages and switches on change.
export function bindLanguageSelect(select) {
  if (!select) return;
  while (select.firstChild) select.firstChild.remove();
  for (const l of LANGUAGES) {
    const o = document.createElement('option');
    o.value = l.code;
    o.textContent = l.name;
    o.lang = l.code;
    select.append(o);
  }
  select.value = lang;
  select.addEventListener('change', () => setLanguage(select.value));
  onLanguage(() => { select.value = lang; });
}

export function formatTime(date) {
  return new Intl.DateTimeFormat(lang, { hour: '2-digit', minute: '2-digit' }).format(date);
}
