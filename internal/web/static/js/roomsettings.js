// The room settings dialog, for the room's owner: access level, locked,
// who may start the transcription, moderated speech and (oidc mode) the
// member list, saved with PATCH /api/rooms/{id}/settings; and the room's
// audit log. The home page opens it from "My rooms", the meeting page
// from the owner's "Room settings" button. It builds its own <dialog>:
// modal (the page behind is inert), Escape closes it, and the focus
// goes back to the button that opened it.

import { $, el, setIconButton } from './dom.js';
import { t, onLanguage } from './i18n.js';
import { api, getSession, ownerHeaders, ApiError } from './api.js';
import { settingsFields, memberEditor } from './roomfields.js';
import { auditTable, downloadJSON } from './auditlog.js';

// apiErrorText says in words why a request to the owner's endpoints failed.
export function apiErrorText(err) {
  if (!(err instanceof ApiError)) return t('serverUnreachable');
  if (err.status === 404) return t('notOwner');
  if (err.status === 401) return t('sessionEnded');
  if (err.status === 429) return t('tooManyRequests');
  return t('requestRefused', { message: err.message });
}

let dialog = null;

function getDialog() {
  if (!dialog) {
    dialog = el('dialog', { id: 'room-settings-dialog', class: 'dialog dialog--wide', 'aria-labelledby': 'rs-title' });
    document.body.append(dialog);
  }
  return dialog;
}

// openRoomSettings shows the dialog of roomId; opener gets the focus back.
export async function openRoomSettings(roomId, { opener = document.activeElement } = {}) {
  const session = await getSession();
  const dlg = getDialog();
  const oidc = session.mode === 'oidc';
  const fields = settingsFields(session.mode, 'rs');
  const members = oidc ? memberEditor('rs') : null;
  const status = el('p', { id: 'rs-status', class: 'hint', role: 'status' }, t('loading'));
  const error = el('p', { id: 'rs-error', class: 'error', role: 'alert', hidden: true });
  const save = el('button', { id: 'rs-save', class: 'btn btn--primary', type: 'submit', disabled: true }, t('save'));
  const form = el('form', { id: 'rs-form', class: 'room-settings', novalidate: true },
    fields.node, members ? members.node : null, el('div', { class: 'dialog__actions' }, save));
  const auditBox = el('div', { id: 'rs-audit', class: 'audit-wrap', tabindex: '0', role: 'region', 'aria-labelledby': 'rs-audit-title' });
  const auditNote = el('p', { id: 'rs-audit-note', class: 'hint', role: 'status' });
  const download = el('button', { id: 'rs-audit-download', class: 'btn btn--small', type: 'button', disabled: true }, t('downloadAudit'));
  const close = el('button', { id: 'rs-close', class: 'btn', type: 'button' }, t('close'));
  dlg.replaceChildren(
    el('h2', { id: 'rs-title' }, t('roomSettingsOf', { name: roomId })),
    status, error, form,
    // Not a landmark itself: its scrolling table is the region named
    // by the heading (one landmark per name).
    el('div', { class: 'audit-section' },
      el('div', { class: 'audit-section__head' }, el('h3', { id: 'rs-audit-title' }, t('auditLog')), download),
      auditNote, auditBox),
    el('div', { class: 'dialog__actions' }, close));

  const path = `/api/rooms/${encodeURIComponent(roomId)}`;
  const headers = ownerHeaders(roomId);
  let audit = [];
  const showError = (err) => {
    console.warn('room settings', err);
    error.textContent = apiErrorText(err);
    error.hidden = false;
  };
  const loadAudit = async () => {
    try {
      audit = await api('GET', path + '/audit', undefined, headers);
      const { table, note } = auditTable(audit);
      auditBox.replaceChildren(table);
      auditNote.textContent = note;
      download.disabled = false;
    } catch (err) {
      showError(err);
    }
  };

  close.addEventListener('click', () => dlg.close());
  download.addEventListener('click', () => downloadJSON(audit, `${roomId}-audit.json`));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.hidden = true;
    const body = fields.get();
    if (members) {
      const m = members.get();
      if (m.error) {
        error.textContent = m.error;
        error.hidden = false;
        m.input.focus();
        return;
      }
      body.members = m.members;
    }
    save.disabled = true;
    status.textContent = t('saving');
    try {
      const out = await api('PATCH', path + '/settings', body, headers);
      fields.set(out);
      if (members) members.set(out.members);
      status.textContent = t('settingsSaved');
      await loadAudit();
    } catch (err) {
      status.textContent = '';
      showError(err);
    } finally {
      save.disabled = false;
    }
  });
  dlg.addEventListener('close', () => {
    if (opener && opener.isConnected) opener.focus();
  }, { once: true });

  dlg.showModal();
  try {
    const s = await api('GET', path + '/settings', undefined, headers);
    fields.set(s);
    if (members) members.set(s.members);
    status.textContent = '';
    save.disabled = false;
  } catch (err) {
    status.textContent = '';
    showError(err);
    return;
  }
  await loadAudit();
}

// mountRoomSettings is the meeting page's plug-in (meeting.js MODULES):
// the "Room settings" button, shown to the room's owner only.
export function mountRoomSettings({ room }) {
  const btn = $('#room-settings');
  if (!btn) return;
  const render = () => {
    btn.hidden = !room.access.isOwner;
    setIconButton(btn, 'shield', t('roomSettings'));
  };
  onLanguage(render);
  btn.addEventListener('click', () => openRoomSettings(room.roomId, { opener: btn }));
  room.addEventListener('role', render);
  room.addEventListener('settings', render); // also sent on joining, when the role may be known already
  render();
}
