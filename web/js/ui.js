// Small DOM helpers and formatting in the workspace's time zone.

/** h('button', {class: 'x', onclick}, 'text', child...) */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) element.addEventListener(key.slice(2), value);
    else if (key === 'class') element.className = value;
    else if (value === true) element.setAttribute(key, '');
    else element.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

let fieldCount = 0;
/** A labelled form control: field('Caption', h('textarea', ...)). */
export function field(label, control, hint) {
  const id = control.id || `field-${++fieldCount}`;
  control.id = id;
  const hintNode = hint ? h('span', { class: 'hint', id: `${id}-hint` }, hint) : null;
  if (hintNode) control.setAttribute('aria-describedby', hintNode.id);
  return h('div', { class: 'field' }, h('label', { for: id }, label), control, hintNode);
}

export function notify(message, kind = 'info') {
  const status = document.getElementById('status');
  if (!status) return;
  status.replaceChildren(h('p', { class: `notice ${kind}` }, message));
}

export function errorText(error) {
  return typeof error.explain === 'function' ? error.explain() : error.message || String(error);
}

const STATUS_WORDS = {
  draft: 'Draft',
  pending_approval: 'Waiting for approval',
  scheduled: 'Scheduled',
  publishing: 'Publishing',
  published: 'Published',
  failed: 'Failed',
  cancelled: 'Cancelled',
  active: 'Connected',
  reauth_required: 'Needs reconnecting',
  rate_limited: 'Rate limited by Instagram',
  disconnected: 'Disconnected',
  pending: 'Waiting for proof',
  paused: 'Paused',
  error: 'Error',
};

export function statusBadge(status) {
  return h('span', { class: `badge badge-${status}` }, STATUS_WORDS[status] || status);
}

export function formatTime(iso, timeZone) {
  if (!iso) return '';
  return new Intl.DateTimeFormat(undefined, { timeZone, weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' }).format(new Date(iso));
}

/** The wall-clock parts of `date` in `timeZone`. */
export function zonedParts(date, timeZone) {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-GB', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' })
      .formatToParts(date).filter((p) => p.type !== 'literal').map((p) => [p.type, Number(p.value)]),
  );
  return parts;
}

function offsetMs(date, timeZone) {
  const p = zonedParts(date, timeZone);
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - (date.getTime() - date.getMilliseconds());
}

/** `2026-12-01T18:30[:ss]` read as a wall-clock time in `timeZone` -> a Date. */
export function fromZonedInput(value, timeZone) {
  const [datePart, timePart] = value.split('T');
  const [year, month, day] = datePart.split('-').map(Number);
  const [hour, minute, second = 0] = timePart.split(':').map(Number);
  const guess = Date.UTC(year, month - 1, day, hour, minute, second);
  const first = guess - offsetMs(new Date(guess), timeZone);
  return new Date(guess - offsetMs(new Date(first), timeZone));
}

/** A Date as the value of an <input type=datetime-local> in `timeZone`. */
export function toZonedInput(date, timeZone) {
  const p = zonedParts(date, timeZone);
  const pad = (n) => String(n).padStart(2, '0');
  return `${p.year}-${pad(p.month)}-${pad(p.day)}T${pad(p.hour)}:${pad(p.minute)}:${pad(p.second)}`;
}

/** Midnight (in `timeZone`) of the Monday of the week holding `date`. */
export function weekStart(date, timeZone) {
  const p = zonedParts(date, timeZone);
  const weekday = (new Date(Date.UTC(p.year, p.month - 1, p.day)).getUTCDay() + 6) % 7;
  const monday = new Date(Date.UTC(p.year, p.month - 1, p.day - weekday));
  return fromZonedInput(`${monday.toISOString().slice(0, 10)}T00:00:00`, timeZone);
}

export function dayKey(date, timeZone) {
  const p = zonedParts(date, timeZone);
  return `${p.year}-${String(p.month).padStart(2, '0')}-${String(p.day).padStart(2, '0')}`;
}

/** replaceChildren, skipping null/undefined/false (so optional parts can be written inline). */
export function fill(element, ...children) {
  element.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return element;
}
