// The fields of a room's settings (access level, locked, who may start
// the transcription, moderated speech, how long transcripts are kept)
// and its member list, as the new
// room form and the room settings dialog both show them. Built with the
// current language each time a form opens: a modal form cannot see a
// language change.

import { el } from './dom.js';
import { t } from './i18n.js';

// accessLevels are the levels offered in a mode: open mode has no
// signed-in users, so "trusted" (signed-in people enter) means nothing
// there, and "restricted" means that everyone knocks.
function accessLevels(mode) {
  if (mode !== 'oidc') {
    return [
      { value: 'public', label: t('accessPublic'), hint: t('accessPublicHint') },
      { value: 'restricted', label: t('accessRestricted'), hint: t('accessRestrictedOpenHint') },
    ];
  }
  return [
    { value: 'public', label: t('accessPublic'), hint: t('accessPublicHint') },
    { value: 'trusted', label: t('accessTrusted'), hint: t('accessTrustedHint') },
    { value: 'restricted', label: t('accessRestricted'), hint: t('accessRestrictedHint') },
  ];
}

// radio is one choice of a radio group, with its explanation.
function radio(name, id, value, label, hint) {
  const hintId = hint ? id + '-hint' : null;
  return el('div', { class: 'choice' },
    el('input', { type: 'radio', name, id, value, 'aria-describedby': hintId }),
    el('label', { for: id }, label),
    hint ? el('p', { id: hintId, class: 'hint' }, hint) : null);
}

function checkbox(id, label, hint) {
  return el('div', { class: 'choice' },
    el('input', { type: 'checkbox', id, 'aria-describedby': id + '-hint' }),
    el('label', { for: id }, label),
    el('p', { id: id + '-hint', class: 'hint' }, hint));
}

// settingsFields builds the settings controls; ids start with prefix.
// get() gives the REST API's fields, set(s) shows a room's.
export function settingsFields(mode, prefix) {
  const levels = accessLevels(mode);
  const access = el('fieldset', { class: 'fields' }, el('legend', {}, t('accessLevel')),
    ...levels.map((l) => radio(prefix + '-access', `${prefix}-access-${l.value}`, l.value, l.label, l.hint)));
  const by = el('fieldset', { class: 'fields' }, el('legend', {}, t('transcriptionBy')),
    radio(prefix + '-by', prefix + '-by-everyone', 'everyone', t('byEveryone')),
    radio(prefix + '-by', prefix + '-by-moderators', 'moderators', t('byModerators')));
  // Days the room's transcripts, and its recordings, are kept; empty:
  // the server's setting.
  const days = (id, label, hint) => el('div', { class: 'field-row' },
    el('label', { for: id }, label),
    el('input', { type: 'number', id, min: '1', max: '3660', step: '1', inputmode: 'numeric', 'aria-describedby': id + '-hint' }),
    el('p', { id: id + '-hint', class: 'hint' }, hint));
  const retain = days(prefix + '-retain', t('retainDays'), t('retainDaysHint'));
  const retainRec = days(prefix + '-retain-rec', t('retainRecordingDays'), t('retainRecordingDaysHint'));
  const node = el('div', { class: 'room-fields' }, access,
    checkbox(prefix + '-locked', t('lockedRoom'), t('lockedRoomHint')),
    by,
    checkbox(prefix + '-speak', t('speakModerated'), t('speakModeratedHint')),
    checkbox(prefix + '-edit', t('participantsEdit'), t('participantsEditHint')),
    retain, retainRec);
  const q = (sel) => node.querySelector(sel);
  // A level this mode does not offer (set through the API) is kept as it is.
  let shown = { access: 'public', transcription_by: 'everyone' };
  return {
    node,
    get() {
      const a = q(`input[name="${prefix}-access"]:checked`);
      const b = q(`input[name="${prefix}-by"]:checked`);
      return {
        access: a ? a.value : shown.access,
        locked: q(`#${prefix}-locked`).checked,
        transcription_by: b ? b.value : shown.transcription_by,
        speak_moderated: q(`#${prefix}-speak`).checked,
        participants_edit: q(`#${prefix}-edit`).checked,
        // Not a whole number in range: sent as it is, for the server's
        // error to say what is wrong (the field's own check says it too).
        retain_days: q(`#${prefix}-retain`).value === '' ? 0 : Number(q(`#${prefix}-retain`).value),
        retain_recording_days: q(`#${prefix}-retain-rec`).value === '' ? 0 : Number(q(`#${prefix}-retain-rec`).value),
      };
    },
    set(s) {
      shown = s;
      for (const r of node.querySelectorAll(`input[name="${prefix}-access"]`)) r.checked = r.value === s.access;
      for (const r of node.querySelectorAll(`input[name="${prefix}-by"]`)) r.checked = r.value === s.transcription_by;
      q(`#${prefix}-locked`).checked = !!s.locked;
      q(`#${prefix}-speak`).checked = !!s.speak_moderated;
      q(`#${prefix}-edit`).checked = !!s.participants_edit;
      q(`#${prefix}-retain`).value = s.retain_days > 0 ? String(s.retain_days) : '';
      q(`#${prefix}-retain-rec`).value = s.retain_recording_days > 0 ? String(s.retain_recording_days) : '';
    },
  };
}

// EMAIL is a plausible address; the server checks it for real.
const EMAIL = /^[^\s@]+@[^\s@]+$/;

// memberEditor edits a member list: one row per e-mail address, with its
// role; empty rows are left out.
export function memberEditor(prefix) {
  const list = el('ul', { id: prefix + '-members', class: 'members' });
  const empty = el('p', { class: 'hint' }, t('membersEmpty'));
  const add = el('button', { id: prefix + '-add-member', class: 'btn btn--small', type: 'button' }, t('addMember'));
  const node = el('fieldset', { class: 'fields' }, el('legend', {}, t('members')),
    el('p', { class: 'hint' }, t('membersHint')), empty, list, add);
  let seq = 0;

  const relabel = () => {
    [...list.children].forEach((li, i) => {
      const email = li.querySelector('input');
      email.setAttribute('aria-label', t('memberEmailN', { n: i + 1 }));
      li.querySelector('select').setAttribute('aria-label', t('memberRoleN', { n: i + 1 }));
      li.querySelector('button').setAttribute('aria-label', t('removeMember', { email: email.value.trim() || i + 1 }));
    });
    empty.hidden = list.children.length > 0;
  };

  const row = (m = { email: '', role: 'member' }) => {
    seq++;
    const email = el('input', { type: 'email', id: `${prefix}-member-${seq}`, class: 'members__email', autocomplete: 'off', spellcheck: 'false',
      placeholder: t('memberEmail') });
    email.value = m.email;
    const role = el('select', { class: 'members__role' },
      el('option', { value: 'member' }, t('roleMember')),
      el('option', { value: 'moderator' }, t('roleModerator')));
    role.value = m.role === 'moderator' ? 'moderator' : 'member';
    const remove = el('button', { class: 'btn btn--small members__remove', type: 'button' }, '×');
    const li = el('li', { class: 'members__row' }, email, role, remove);
    email.addEventListener('input', () => { email.removeAttribute('aria-invalid'); relabel(); });
    remove.addEventListener('click', () => {
      const next = li.nextElementSibling || li.previousElementSibling;
      li.remove();
      relabel();
      (next ? next.querySelector('input') : add).focus();
    });
    list.append(li);
    return email;
  };

  add.addEventListener('click', () => {
    const input = row();
    relabel();
    input.focus();
  });

  return {
    node,
    set(members) {
      list.replaceChildren();
      for (const m of members || []) row(m);
      relabel();
    },
    // get returns {members} or {error, input} for the first bad address.
    get() {
      const members = [];
      for (const li of list.children) {
        const input = li.querySelector('input');
        const email = input.value.trim();
        if (!email) continue;
        if (!EMAIL.test(email)) {
          input.setAttribute('aria-invalid', 'true');
          return { error: t('memberEmailInvalid', { email }), input };
        }
        members.push({ email, role: li.querySelector('select').value });
      }
      return { members };
    },
  };
}
