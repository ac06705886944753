// Plan: posts by status and on a week calendar (workspace time zone); approve, schedule with best times, cancel, retry.
import { captionEditor } from './create.js';
import { dayKey, errorText, field, fill, formatTime, fromZonedInput, h, notify, statusBadge, toZonedInput, weekStart } from '../ui.js';

const STATUSES = ['draft', 'pending_approval', 'scheduled', 'publishing', 'published', 'failed', 'cancelled'];
const REFRESH_MS = 4000;

async function loadPosts(ctx, status) {
  const items = [];
  let cursor = null;
  do {
    const page = await ctx.api.get('posts', '/', { workspace_id: ctx.workspace.id, status, cursor, limit: 100 });
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && items.length < 300);
  return items;
}

function when(post) { return post.published_at || post.scheduled_at; }

function scheduleForm(ctx, post, done) {
  const tz = ctx.workspace.timezone;
  const start = post.scheduled_at && new Date(post.scheduled_at) > new Date() ? new Date(post.scheduled_at) : new Date(Date.now() + 3600 * 1000);
  const at = h('input', { type: 'datetime-local', name: 'scheduled_at', step: 1, required: true, value: toZonedInput(start, tz) });
  const suggestions = h('div', { class: 'slots', 'aria-live': 'polite' }, h('span', { class: 'hint' }, 'Looking for the best times…'));
  const form = h('form', { class: 'schedule' }, field(`Time (${tz})`, at), suggestions,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, post.status === 'failed' ? 'Retry at this time' : 'Schedule'),
      h('button', { type: 'button', onclick: () => form.remove() }, 'Close')));
  if (post.instagram_account_id) {
    ctx.api.get('posts', '/best-times', { instagram_account_id: post.instagram_account_id, count: 5 }).then(({ slots }) => {
      suggestions.replaceChildren(h('span', { class: 'hint' }, 'Best times:'), ...slots.map((slot) => h('button', {
        type: 'button', class: 'slot', title: slot.reason,
        onclick: () => { at.value = toZonedInput(new Date(slot.at), tz); at.focus(); },
      }, formatTime(slot.at, tz))));
    }).catch((error) => suggestions.replaceChildren(h('span', { class: 'hint' }, `No suggestions: ${errorText(error)}`)));
  } else {
    suggestions.replaceChildren(h('span', { class: 'hint' }, 'Choose an Instagram account for this post first.'));
  }
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const scheduledAt = fromZonedInput(at.value, tz).toISOString();
    try {
      const action = post.status === 'failed' ? 'retry' : 'schedule';
      const updated = await ctx.api.post('posts', `/${post.id}/${action}`, { scheduled_at: scheduledAt });
      notify(updated.status === 'pending_approval' ? 'Sent for approval: an owner approves it before it is published.' : `Scheduled for ${formatTime(updated.scheduled_at, tz)}.`);
      await done();
    } catch (error) { notify(errorText(error), 'error'); }
  });
  return form;
}

function postCard(ctx, post, refresh) {
  const tz = ctx.workspace.timezone;
  const owner = ctx.workspace.role === 'owner';
  const editor = ctx.workspace.role !== 'viewer';
  const act = (label, action, body, message) => h('button', { type: 'button', onclick: async () => {
    try { await ctx.api.post('posts', `/${post.id}/${action}`, body); notify(message); await refresh(); }
    catch (error) { notify(errorText(error), 'error'); }
  } }, label);
  const card = h('article', { class: `card post status-${post.status}`, id: `post-${post.id}`, 'data-status': post.status, 'aria-labelledby': `post-title-${post.id}` });
  const image = post.images[0];
  const actions = h('div', { class: 'actions' });
  const openSchedule = () => { if (!card.querySelector('form.schedule')) card.append(scheduleForm(ctx, post, refresh)); card.querySelector('form.schedule input').focus(); };
  if (editor && ['draft', 'scheduled', 'pending_approval'].includes(post.status)) actions.append(h('button', { type: 'button', onclick: openSchedule }, post.status === 'scheduled' ? 'Reschedule' : 'Schedule'));
  if (owner && post.status === 'pending_approval') actions.append(act('Approve', 'approve', {}, 'Approved.'));
  if (editor && post.status === 'failed') {
    actions.append(act('Retry now', 'retry', {}, 'It will be tried again now.'), h('button', { type: 'button', onclick: openSchedule }, 'Retry later'));
  }
  if (editor && ['draft', 'pending_approval', 'scheduled', 'failed'].includes(post.status)) actions.append(act('Cancel', 'cancel', undefined, 'Cancelled.'));
  if (editor && ['draft', 'pending_approval', 'failed'].includes(post.status)) {
    actions.append(h('button', { type: 'button', onclick: () => {
      if (!card.querySelector('form.caption-editor')) card.append(captionEditor(post, async (changes) => { await ctx.api.patch('posts', `/${post.id}`, changes); await refresh(); }));
    } }, 'Edit caption'));
  }
  const reason = post.status === 'failed' ? (post.last_error || post.failure_reason || 'Instagram refused the post.') : null;
  fill(card,
    image && image.url ? h('img', { src: image.url, alt: post.alt_text || 'Post graphic', width: 96, height: Math.round(96 * (image.height || 1) / (image.width || 1)), class: 'thumb' }) : null,
    h('div', { class: 'body' },
      h('h3', { id: `post-title-${post.id}` }, statusBadge(post.status), ' ', when(post) ? formatTime(when(post), tz) : 'No time yet'),
      h('p', { class: 'caption' }, (post.caption || '(no caption)').slice(0, 160)),
      reason ? h('p', { class: 'error' }, `Why it failed: ${reason}`) : null,
      post.permalink ? h('p', {}, h('a', { href: post.permalink, target: '_blank', rel: 'noopener' }, 'View on Instagram')) : null,
      actions));
  return card;
}

function calendar(ctx, posts, start, move) {
  const tz = ctx.workspace.timezone;
  const days = [...Array(7)].map((_, i) => new Date(start.getTime() + (i * 24 + 12) * 3600 * 1000));
  const byDay = {};
  for (const post of posts) {
    if (!when(post) || post.status === 'cancelled') continue;
    (byDay[dayKey(new Date(when(post)), tz)] ||= []).push(post);
  }
  const label = new Intl.DateTimeFormat(undefined, { timeZone: tz, day: 'numeric', month: 'short' });
  const weekday = new Intl.DateTimeFormat(undefined, { timeZone: tz, weekday: 'long', day: 'numeric', month: 'short' });
  const time = new Intl.DateTimeFormat(undefined, { timeZone: tz, hour: '2-digit', minute: '2-digit' });
  return h('section', { class: 'calendar', 'aria-labelledby': 'week-title' },
    h('div', { class: 'week-head' },
      h('button', { type: 'button', onclick: () => move(-1), 'aria-label': 'Previous week' }, '‹'),
      h('h2', { id: 'week-title' }, `Week of ${label.format(days[0])} – ${label.format(days[6])} (${tz})`),
      h('button', { type: 'button', onclick: () => move(1), 'aria-label': 'Next week' }, '›')),
    h('ol', { class: 'days' }, days.map((day) => h('li', { class: 'day' },
      h('h3', {}, weekday.format(day)),
      h('ul', {}, (byDay[dayKey(day, tz)] || []).sort((a, b) => when(a).localeCompare(when(b))).map((post) => h('li', {},
        h('a', { href: `#/plan?post=${post.id}`, class: `entry status-${post.status}` }, `${time.format(new Date(when(post)))} `, statusBadge(post.status)))))))));
}

export async function planView(main, ctx) {
  const filter = h('select', { id: 'filter-status' }, h('option', { value: '' }, 'All statuses'), STATUSES.map((s) => h('option', { value: s }, statusBadge(s).textContent)));
  let week = weekStart(new Date(), ctx.workspace.timezone);
  let posts = [];
  const list = h('div', { class: 'posts', id: 'post-list' });
  const cal = h('div');
  const focusId = new URLSearchParams(location.hash.split('?')[1] || '').get('post');
  let timer = null;
  let alive = true;

  const draw = () => {
    const shown = posts.filter((p) => !filter.value || p.status === filter.value);
    list.replaceChildren(...(shown.length ? shown.map((p) => postCard(ctx, p, refresh)) : [h('p', {}, 'No posts here yet. Create one.')]));
    cal.replaceChildren(calendar(ctx, posts, week, (step) => { week = new Date(week.getTime() + step * 7 * 24 * 3600 * 1000); draw(); }));
  };
  const busy = () => main.contains(document.activeElement) && document.activeElement.closest('form');
  const refresh = async () => {
    posts = await loadPosts(ctx, null);
    draw();
    schedule();
  };
  // While a post is publishing or due within minutes, follow it without the person reloading.
  const schedule = () => {
    clearTimeout(timer);
    const soon = posts.some((p) => p.status === 'publishing' || (p.status === 'scheduled' && new Date(p.scheduled_at) - Date.now() < 3 * 60 * 1000));
    if (alive && soon) timer = setTimeout(() => (busy() ? schedule() : refresh().catch(() => schedule())), REFRESH_MS);
  };
  filter.addEventListener('change', draw);
  fill(main, 
    h('h1', {}, 'Plan'),
    h('div', { class: 'filters' }, field('Show', filter), h('button', { type: 'button', onclick: () => refresh().catch((e) => notify(errorText(e), 'error')) }, 'Refresh')),
    cal,
    h('section', { 'aria-labelledby': 'posts-title' }, h('h2', { id: 'posts-title' }, 'Posts'), list),
  );
  await refresh();
  if (focusId) {
    const card = document.getElementById(`post-${focusId}`);
    if (card) {
      card.scrollIntoView({ block: 'center' });
      const button = [...card.querySelectorAll('button')].find((b) => /Schedule|Reschedule/.test(b.textContent));
      if (button) button.click(); else card.querySelector('button')?.focus();
    }
  }
  return () => { alive = false; clearTimeout(timer); };
}
