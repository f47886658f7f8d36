// Room ids as the server accepts them (room.ValidRoomID): lower-case
// letter groups joined by single hyphens, like "abcd-efghi-jklm".

export const ROOM_ID = /^[a-z]{2,12}(-[a-z]{2,12}){0,4}$/;

// roomFromInput accepts "abcd-efghi-jklm", "ABCD EFGHI JKLM" or a full
// link to a meeting, and returns the room id or ''.
export function roomFromInput(raw, origin = window.location.origin) {
  let s = String(raw).trim();
  if (!s) return '';
  if (/^https?:/i.test(s) || s.includes('/')) {
    try {
      const u = new URL(s, origin);
      s = u.pathname.split('/').filter(Boolean).pop() || '';
    } catch {
      return '';
    }
  }
  s = s.toLowerCase().replace(/[\s_]+/g, '-');
  return ROOM_ID.test(s) && s.length <= 48 ? s : '';
}
