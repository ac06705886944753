// The page Instagram sends the browser back to: completes the login with the signed-in user's token.
import { Api } from './api.js';
import { loadConfig } from './config.js';
import { openSession } from './session.js';
import { errorText } from './ui.js';

const result = document.getElementById('result');
const back = document.getElementById('back');

async function complete() {
  const query = new URLSearchParams(location.search);
  if (query.get('error')) {
    result.textContent = `Not connected: Instagram said “${query.get('error_description') || query.get('error_reason') || query.get('error')}”. Nothing was stored.`;
    return;
  }
  const config = await loadConfig();
  const session = await openSession(config);
  if (!session.user) {
    result.textContent = 'Not connected: you are signed out. Sign in, then connect again from your Instagram accounts.';
    return;
  }
  const api = new Api(config, () => session.token());
  try {
    const account = await api.post('instagram-auth', '/complete', { code: query.get('code') || '', state: query.get('state') || '' });
    result.textContent = `Connected: @${account.username || account.ig_user_id} is ready to publish (${account.status}).`;
    history.replaceState(null, '', location.pathname); // the code and state are spent; a reload must not resend them
  } catch (error) {
    result.textContent = `Not connected: ${errorText(error)}`;
  }
  back.focus();
}

complete().catch((error) => { result.textContent = `Not connected: ${errorText(error)}`; });
