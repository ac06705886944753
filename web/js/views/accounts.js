// Instagram accounts: connect (owners), status of each, reconnect one that needs it.
import { errorText, fill, formatTime, h, notify, statusBadge } from '../ui.js';

export const ACCOUNT_COLUMNS = 'id,username,name,status,status_reason,token_expires_at,account_type,followers_count';

async function connect(ctx, button) {
  button.disabled = true;
  try {
    const redirectTo = new URL('../../instagram-return.html', import.meta.url).href;
    const { authorize_url: url } = await ctx.api.get('instagram-auth', '/start', { workspace_id: ctx.workspace.id, redirect_to: redirectTo });
    location.assign(url);
  } catch (error) {
    notify(errorText(error), 'error');
    button.disabled = false;
  }
}

export async function accountsView(main, ctx) {
  const accounts = await ctx.rows.select('instagram_accounts', ACCOUNT_COLUMNS, { workspace_id: ctx.workspace.id }, 'created_at.asc');
  const owner = ctx.workspace.role === 'owner';
  const connectButton = h('button', { type: 'button', class: 'primary', disabled: !owner, onclick: (e) => connect(ctx, e.target) }, 'Connect an Instagram account');
  const list = accounts.length
    ? h('ul', { class: 'accounts' }, accounts.map((account) => h('li', { class: 'card account' },
      h('h2', {}, `@${account.username || account.name || 'instagram account'}`),
      h('p', {}, statusBadge(account.status), account.account_type ? ` ${account.account_type.toLowerCase()} account` : '',
        account.followers_count !== null ? ` · ${account.followers_count} followers` : ''),
      account.status_reason ? h('p', { class: 'hint' }, account.status_reason) : null,
      account.token_expires_at ? h('p', { class: 'hint' }, `Access valid until ${formatTime(account.token_expires_at, ctx.workspace.timezone)}`) : null,
      account.status === 'reauth_required' || account.status === 'disconnected'
        ? h('button', { type: 'button', class: 'primary', disabled: !owner, onclick: (e) => connect(ctx, e.target) }, `Reconnect @${account.username || ''}`)
        : null,
    )))
    : h('p', {}, 'No Instagram account is connected yet.');
  fill(main, 
    h('h1', {}, 'Instagram accounts'),
    h('p', {}, 'Posts are published to these professional Instagram accounts.'),
    list,
    h('div', { class: 'actions' }, connectButton),
    owner ? null : h('p', { class: 'hint' }, 'Only owners of the workspace can connect accounts.'),
  );
}
