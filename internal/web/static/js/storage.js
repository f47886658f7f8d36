// Preferences kept in localStorage under "parley.<key>" as JSON. Storage
// can be unavailable (private modes, policies): reads then give the
// default and writes are dropped.

const PREFIX = 'parley.';

export const store = {
  get(key, fallback) {
    try {
      const v = window.localStorage.getItem(PREFIX + key);
      return v === null ? fallback : JSON.parse(v);
    } catch {
      return fallback;
    }
  },
  set(key, value) {
    try {
      window.localStorage.setItem(PREFIX + key, JSON.stringify(value));
    } catch { /* storage unavailable */ }
  },
};
