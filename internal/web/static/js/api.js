// The REST API as the pages use it: the CSRF token every state-changing
// request carries (from GET /api/session), join tokens, and the secrets
// this browser keeps — a room's creator token (its owner's credential in
// open mode) and each meeting's key (the right to read its transcript).

import { store } from './storage.js';

let session = null;

// getSession returns {mode, user, csrf}, asking the server once.
export async function getSession(refresh = false) {
  if (!session || refresh) {
    const r = await fetch('/api/session', { cache: 'no-store', credentials: 'same-origin' });
    if (!r.ok) throw new ApiError({ name: 'unreachable', message: `session: ${r.status}` }, r.status);
    session = await r.json();
  }
  return session;
}

export class ApiError extends Error {
  constructor(body, status) {
    super(body.error || body.message || body.name || `HTTP ${status}`);
    this.code = body.code;
    this.wire = body.name;
    this.status = status;
  }
}

// api sends a JSON request with the CSRF token and returns the decoded
// answer; error answers throw ApiError.
export async function api(method, path, body, headers = {}) {
  const s = await getSession();
  const init = { method, cache: 'no-store', credentials: 'same-origin', headers: { Accept: 'application/json', ...headers } };
  if (method !== 'GET') init.headers['X-Parley-CSRF'] = s.csrf;
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const r = await fetch(path, init);
  let out = null;
  try { out = await r.json(); } catch { out = {}; }
  if (!r.ok) throw new ApiError(out || {}, r.status);
  return out;
}

// creatorToken is the owner's credential of a room this browser created.
export const creatorToken = (roomId) => store.get(`creator.${roomId}`, '');
export const setCreatorToken = (roomId, tok) => store.set(`creator.${roomId}`, tok);

// meetingKey is this browser's key to a meeting's record.
export const meetingKey = (meetingId) => store.get(`key.${meetingId}`, '');
export const setMeetingKey = (meetingId, key) => {
  if (meetingId && key) store.set(`key.${meetingId}`, key);
};

// joinToken asks for a join token: {token, role, lobby, name}.
export async function joinToken(roomId, name) {
  const body = { name };
  const ct = creatorToken(roomId);
  if (ct) body.creator_token = ct;
  const out = await api('POST', `/api/rooms/${encodeURIComponent(roomId)}/join`, body);
  if (out.creator_token) setCreatorToken(roomId, out.creator_token);
  return out;
}

// ownerHeaders are the headers of the owner's endpoints for a room.
export function ownerHeaders(roomId) {
  const ct = creatorToken(roomId);
  return ct ? { 'X-Parley-Creator': ct } : {};
}

// TRANSCRIPT_FORMATS are the transcript downloads the server offers
// (GET /api/meetings/{id}/transcript?format=…).
export const TRANSCRIPT_FORMATS = ['odt', 'docx', 'txt', 'md', 'vtt', 'srt', 'json', 'rttm'];

// transcriptURL is the same-origin address of a meeting's transcript.
// The meeting key this browser got on joining goes in the link: a link
// cannot send a header, and nobody without the key may read the meeting.
export function transcriptURL(meetingId, format) {
  const key = meetingKey(meetingId);
  return `/api/meetings/${encodeURIComponent(meetingId)}/transcript?format=${encodeURIComponent(format)}` +
    (key ? `&key=${encodeURIComponent(key)}` : '');
}
