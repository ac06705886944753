// The studio: sign in, pick a workspace, then one view per section (#/plan, #/create, ...).
import { Api } from './api.js';
import { loadConfig } from './config.js';
import { Rows } from './rows.js';
import { openSession } from './session.js';
import { errorText, field, h, notify } from './ui.js';
import { accountsView } from './views/accounts.js';
import { createView } from './views/create.js';
import { libraryView } from './views/library.js';
import { planView } from './views/plan.js';
import { resultsView } from './views/results.js';

const VIEWS = { plan: planView, create: createView, library: libraryView, accounts: accountsView, results: resultsView };
const WORKSPACE_KEY = 'sociallab.workspace';
const main = document.getElementById('main');
let ctx = null;
let leave = null; // the current view's clean-up (timers)

function signInView(session) {
  const email = h('input', { type: 'email', name: 'email', autocomplete: 'username', required: true, value: session.dev ? 'demo@sociallab.local' : '' });
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: !session.dev });
  const submit = h('button', { type: 'submit', class: 'primary' }, session.dev ? 'Sign in (development)' : 'Sign in');
  const form = h('form', { class: 'card narrow', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, 'Sign in'),
    session.dev ? h('p', { class: 'hint' }, 'Development sign-in of `make run`: no password; the seed made demo@sociallab.local.') : null,
    field('Email', email),
    session.dev ? null : field('Password', password),
    h('div', { class: 'actions' }, submit,
      session.dev ? null : h('button', { type: 'button', onclick: async () => {
        try { await session.sendLink(email.value); notify('We sent you a sign-in link.'); } catch (e) { notify(errorText(e), 'error'); }
      } }, 'Email me a sign-in link')),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    submit.disabled = true;
    try {
      await session.signIn(email.value, password.value);
      notify('Signed in.');
      await start(session);
    } catch (error) {
      notify(errorText(error), 'error');
    } finally {
      submit.disabled = false;
    }
  });
  main.replaceChildren(form);
  email.focus();
}

async function loadWorkspaces(rows, userId) {
  const memberships = await rows.select('workspace_members', 'workspace_id,role', { user_id: userId });
  const workspaces = await rows.select('workspaces', 'id,name,timezone,require_approval', {}, 'name.asc');
  const roles = Object.fromEntries(memberships.map((m) => [m.workspace_id, m.role]));
  return workspaces.filter((w) => roles[w.id]).map((w) => ({ ...w, role: roles[w.id] }));
}

function header(session) {
  const who = document.getElementById('who');
  const picker = h('select', { id: 'workspace', onchange: (e) => {
    ctx.workspace = ctx.workspaces.find((w) => w.id === e.target.value);
    localStorage.setItem(WORKSPACE_KEY, ctx.workspace.id);
    route();
  } }, ctx.workspaces.map((w) => h('option', { value: w.id, selected: w.id === ctx.workspace.id }, w.name)));
  who.replaceChildren(
    h('label', { for: 'workspace', class: 'visually-hidden' }, 'Workspace'), picker,
    h('span', { class: 'user' }, `${session.user.email} (${ctx.workspace.role})`),
    h('button', { type: 'button', onclick: async () => { await session.signOut(); location.hash = ''; location.reload(); } }, 'Sign out'),
  );
  document.getElementById('nav').hidden = false;
}

async function route() {
  if (leave) { leave(); leave = null; }
  const name = (location.hash.match(/^#\/([a-z]+)/) || [])[1] || 'plan';
  const view = VIEWS[name] || planView;
  for (const link of document.querySelectorAll('#nav a')) {
    if (link.getAttribute('href') === `#/${name}`) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  main.replaceChildren(h('p', {}, 'Loading…'));
  document.getElementById('status').replaceChildren(); // a notice belongs to the view it came from
  try {
    leave = (await view(main, ctx)) || null;
  } catch (error) {
    main.replaceChildren(h('div', { class: 'card' }, h('h1', {}, 'Something went wrong'), h('p', { class: 'error' }, errorText(error))));
  }
  main.focus();
}

async function start(session) {
  const config = session.config;
  const rows = new Rows(config.supabaseUrl, config.supabaseAnonKey, () => session.token());
  const workspaces = await loadWorkspaces(rows, session.user.id);
  if (!workspaces.length) {
    main.replaceChildren(h('div', { class: 'card' }, h('h1', {}, 'No workspace yet'), h('p', {}, 'Ask an owner of your club\u2019s workspace to add you.')));
    return;
  }
  const remembered = localStorage.getItem(WORKSPACE_KEY);
  ctx = {
    config,
    session,
    api: new Api(config, () => session.token()),
    rows,
    workspaces,
    workspace: workspaces.find((w) => w.id === remembered) || workspaces[0],
  };
  header(session);
  window.addEventListener('hashchange', route);
  await route();
}

async function boot() {
  try {
    const config = await loadConfig();
    const session = await openSession(config);
    if (session.user) await start(session);
    else signInView(session);
  } catch (error) {
    main.replaceChildren(h('div', { class: 'card' }, h('h1', {}, 'The studio could not start'), h('p', { class: 'error' }, errorText(error))));
  }
}

boot();
