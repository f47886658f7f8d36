// A room's audit log as its owner reads it: a table, newest first, and
// the whole log as a JSON download.

import { el } from './dom.js';
import { t, language } from './i18n.js';

// MAX_ROWS bounds the table: the server gives up to 10 000 rows, which
// would make the dialog slow to open and useless to read; the download
// has them all.
export const MAX_ROWS = 200;

function when(at) {
  const d = new Date(at);
  if (Number.isNaN(d.getTime())) return String(at || '');
  return new Intl.DateTimeFormat(language(), { dateStyle: 'short', timeStyle: 'medium' }).format(d);
}

// auditTable renders rows (the API's entries) into a table, newest first.
export function auditTable(rows) {
  const sorted = [...rows].sort((a, b) => (Date.parse(b.at) || 0) - (Date.parse(a.at) || 0) || (b.id || 0) - (a.id || 0));
  const shown = sorted.slice(0, MAX_ROWS);
  const body = el('tbody', {}, ...shown.map((r) => el('tr', { dataset: { auditAction: r.action || '' } },
    el('td', {}, el('time', { datetime: r.at }, when(r.at))),
    el('td', { title: r.actor || '' }, r.name || r.actor || '—'),
    el('td', {}, r.action || ''),
    el('td', { class: 'audit__detail' }, r.detail || ''),
    el('td', {}, r.addr || ''))));
  const head = el('thead', {}, el('tr', {}, ...[t('auditWhen'), t('auditWho'), t('action'), t('auditDetail'), t('auditAddress')]
    .map((label) => el('th', { scope: 'col' }, label))));
  return {
    table: el('table', { class: 'audit' }, head, body),
    note: sorted.length > shown.length ? t('auditShown', { shown: shown.length, total: sorted.length }) : (sorted.length ? '' : t('auditEmpty')),
  };
}

// downloadJSON saves data as a file through a temporary link.
export function downloadJSON(data, filename) {
  const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: 'application/json' }));
  const a = el('a', { href: url, download: filename, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
