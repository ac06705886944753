// Results (the `insights` read API): account growth, per-post and per-template figures, as charts.
// Until the API has figures (404, no insights function deployed yet, or empty lists) each part says so instead.
import { ApiError } from '../api.js';
import { errorText, field, fill, formatTime, h } from '../ui.js';
import { ACCOUNT_COLUMNS } from './accounts.js';

const NO_FIGURES = 'No figures yet: they appear once Instagram has reported on published posts (insights sync runs hourly).';
const SVG = 'http://www.w3.org/2000/svg';

function svg(tag, attrs, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) element.setAttribute(key, value);
  element.append(...children);
  return element;
}

/** The first list of objects in an answer (`items`, `days`, ...), whatever its key. */
function rowsOf(answer) {
  if (Array.isArray(answer)) return answer;
  if (!answer || typeof answer !== 'object') return [];
  for (const value of Object.values(answer)) if (Array.isArray(value) && value.length && typeof value[0] === 'object') return value;
  return [];
}

function numericKeys(rows, skip = []) {
  const keys = new Set();
  for (const row of rows) for (const [k, v] of Object.entries(row)) if (typeof v === 'number' && !skip.includes(k)) keys.add(k);
  return [...keys];
}

/** A labelled bar chart (SVG with a title and a table fallback for screen readers). */
function barChart(title, labels, values, format = (v) => String(v)) {
  const width = 640;
  const barHeight = 22;
  const max = Math.max(...values.map((v) => v || 0), 1);
  const height = labels.length * (barHeight + 6) + 10;
  const id = `chart-${Math.random().toString(36).slice(2)}`;
  const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-labelledby': id, class: 'chart' }, svg('title', { id }, title));
  labels.forEach((label, i) => {
    const y = 5 + i * (barHeight + 6);
    const w = Math.max(2, ((values[i] || 0) / max) * (width - 260));
    chart.append(
      svg('text', { x: 0, y: y + 16, class: 'label' }, String(label).slice(0, 28)),
      svg('rect', { x: 200, y, width: w, height: barHeight, class: 'bar' }),
      svg('text', { x: 206 + w, y: y + 16, class: 'value' }, values[i] === null || values[i] === undefined ? '–' : format(values[i])));
  });
  return h('figure', { class: 'figure' }, h('figcaption', {}, title), chart);
}

function lineChart(title, points) {
  const width = 640;
  const height = 200;
  const values = points.map((p) => p.value).filter((v) => typeof v === 'number');
  if (values.length < 2) return barChart(title, points.map((p) => p.label), points.map((p) => p.value));
  const min = Math.min(...values);
  const max = Math.max(...values);
  const x = (i) => 40 + (i / (points.length - 1)) * (width - 60);
  const y = (v) => height - 25 - ((v - min) / (max - min || 1)) * (height - 50);
  const path = points.filter((p) => typeof p.value === 'number').map((p, i) => `${i ? 'L' : 'M'}${x(points.indexOf(p)).toFixed(1)},${y(p.value).toFixed(1)}`).join(' ');
  const id = `chart-${Math.random().toString(36).slice(2)}`;
  return h('figure', { class: 'figure' }, h('figcaption', {}, `${title}: ${values[0]} → ${values[values.length - 1]}`),
    svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-labelledby': id, class: 'chart' },
      svg('title', { id }, `${title} from ${points[0].label} to ${points[points.length - 1].label}: ${values[0]} to ${values[values.length - 1]}`),
      svg('path', { d: path, class: 'line' }),
      svg('text', { x: 0, y: 20, class: 'value' }, String(max)),
      svg('text', { x: 0, y: height - 25, class: 'value' }, String(min)),
      svg('text', { x: 40, y: height - 5, class: 'label' }, points[0].label),
      svg('text', { x: width - 120, y: height - 5, class: 'label' }, points[points.length - 1].label)));
}

async function part(title, load, render) {
  const section = h('section', { class: 'card', 'aria-labelledby': `${title}-title`.replace(/\W/g, '') }, h('h2', { id: `${title}-title`.replace(/\W/g, '') }, title));
  try {
    const answer = await load();
    const rows = rowsOf(answer);
    section.append(...(rows.length ? render(rows, answer) : [h('p', { class: 'empty' }, NO_FIGURES)]));
  } catch (error) {
    section.append(h('p', { class: 'empty' }, error instanceof ApiError && [0, 404, 501].includes(error.status) ? NO_FIGURES : errorText(error)));
  }
  return section;
}

export async function resultsView(main, ctx) {
  const tz = ctx.workspace.timezone;
  const accounts = await ctx.rows.select('instagram_accounts', ACCOUNT_COLUMNS, { workspace_id: ctx.workspace.id }, 'created_at.asc');
  const account = h('select', { id: 'results-account' }, accounts.map((a) => h('option', { value: a.id }, `@${a.username}`)));
  const body = h('div', { 'aria-live': 'polite' });
  const draw = async () => {
    if (!account.value) { body.replaceChildren(h('p', { class: 'empty' }, 'Connect an Instagram account to see results.')); return; }
    body.replaceChildren(h('p', {}, 'Loading figures…'));
    const parts = await Promise.all([
      part('Account growth (28 days)', () => ctx.api.get('insights', `/accounts/${account.value}/summary`, { days: 28 }), (rows) => {
        const dateKey = Object.keys(rows[0]).find((k) => /date|day/.test(k)) || Object.keys(rows[0])[0];
        return numericKeys(rows).map((key) => lineChart(key.replace(/_/g, ' '), rows.map((r) => ({ label: String(r[dateKey]).slice(0, 10), value: r[key] }))));
      }),
      part('Posts', () => ctx.api.get('insights', '/posts', { workspace_id: ctx.workspace.id }), (rows) => {
        const labels = rows.map((r) => `${formatTime(r.published_at || r.time || r.timestamp, tz) || r.post_id || ''}`);
        const rate = rows.map((r) => (typeof r.engagement_rate === 'number' ? r.engagement_rate * 100 : null));
        return [barChart('Engagement rate per post (%)', labels, rate, (v) => `${v.toFixed(1)} %`),
          barChart('Reach per post', labels, rows.map((r) => r.reach ?? null))];
      }),
      part('Templates', () => ctx.api.get('insights', '/templates', { workspace_id: ctx.workspace.id, instagram_account_id: account.value }), (rows) => {
        const labels = rows.map((r) => r.template_key || r.key || r.template || r.name || '');
        const rate = rows.map((r) => { const v = r.mean_engagement_rate ?? r.engagement_rate; return typeof v === 'number' ? v * 100 : null; });
        return [barChart('Mean engagement rate per template (%)', labels, rate, (v) => `${v.toFixed(1)} %`), barChart('Posts per template', labels, rows.map((r) => r.posts ?? r.post_count ?? null))];
      }),
    ]);
    body.replaceChildren(...parts);
  };
  account.addEventListener('change', draw);
  fill(main, h('h1', {}, 'Results'), accounts.length ? h('div', { class: 'filters' }, field('Account', account)) : null, body);
  await draw();
}
