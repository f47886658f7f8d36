// The account corner of the top bar in oidc mode: "Sign in" for nobody,
// else the user's name and "Sign out". In open mode there are no
// accounts and it stays empty.

import { el, clear } from './dom.js';
import { t, onLanguage } from './i18n.js';
import { api } from './api.js';

// signInURL starts the provider's sign-in and comes back to this page.
export function signInURL(path = window.location.pathname) {
  return '/auth/login?next=' + encodeURIComponent(path);
}

// signOut ends the session and goes where the server says: the
// provider's end-session page, which sends the browser back home.
export async function signOut() {
  const out = await api('POST', '/auth/logout', {});
  window.location.assign(out.redirect || '/');
}

// mountAccount fills box (an element of the top bar) from the session.
export function mountAccount(box, session) {
  if (!box || session.mode !== 'oidc') return;
  const render = () => {
    clear(box);
    const user = session.user;
    if (!user) {
      box.append(el('a', { id: 'sign-in', class: 'btn btn--small', href: signInURL() }, t('signIn')));
      return;
    }
    const err = el('span', { class: 'error account__error', role: 'alert' });
    const out = el('button', { id: 'sign-out', class: 'btn btn--small', type: 'button' }, t('signOut'));
    out.addEventListener('click', async () => {
      out.disabled = true;
      err.textContent = '';
      try {
        await signOut();
      } catch (e) {
        console.warn('sign out', e);
        err.textContent = t('signOutFailed');
        out.disabled = false;
      }
    });
    box.append(el('span', { id: 'account-name', class: 'account__name', title: user.email || '' }, user.name || user.email), out, err);
  };
  render();
  onLanguage(render);
}
