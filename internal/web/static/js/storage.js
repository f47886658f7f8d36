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
  // keys lists the keys that start with prefix (without "parley.").
  keys(prefix) {
    const out = [];
    try {
      for (let i = 0; i < window.localStorage.length; i++) {
        const k = window.localStorage.key(i);
        if (k && k.startsWith(PREFIX + prefix)) out.push(k.slice(PREFIX.length));
      }
    } catch { /* storage unavailable */ }
    return out;
  },
  set(key, value) {
    try {
      window.localStorage.setItem(PREFIX + key, JSON.stringify(value));
    } catch { /* storage unavailable */ }
  },
};
