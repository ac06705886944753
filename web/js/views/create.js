// Create: content type, match/player data, photos and format -> generate; edit the caption within Instagram's limits.
import { MAX_CAPTION, MAX_HASHTAGS, MAX_MENTIONS, captionCounts, splitHashtags } from '../caption.js';
import { errorText, field, fill, h, notify } from '../ui.js';
import { ACCOUNT_COLUMNS } from './accounts.js';
import { loadAssets, loadMatches, matchLabel } from './library.js';

const FORMATS = { feed_4x5: 'Feed, portrait 4:5', square: 'Feed, square', story_9x16: 'Story 9:16' };
const TYPE_NAMES = { match_result: 'Match result', matchday: 'Matchday', player_spotlight: 'Player spotlight', announcement: 'Announcement', quote: 'Quote' };
const SOURCES = { gemini: 'written by Gemini', cache: 'written by Gemini (reused)', template: 'from the template' };

function value(input) {
  const text = input.value.trim();
  if (!text) return undefined;
  if (input.dataset.kind === 'stats') {
    return text.split('\n').map((line) => line.split(':')).filter((p) => p.length >= 2).map(([label, ...rest]) => ({ label: label.trim(), value: rest.join(':').trim() }));
  }
  return /^-?\d+$/.test(text) && /score|number/.test(input.name) ? Number(text) : text;
}

export function captionEditor(post, onSave) {
  const caption = h('textarea', { name: 'caption', rows: 8 }, post.caption || '');
  const hashtags = h('input', { type: 'text', name: 'hashtags', value: (post.hashtags || []).join(' ') });
  const counts = h('p', { class: 'counts', 'aria-live': 'polite', id: `counts-${post.id}` });
  const save = h('button', { type: 'submit', class: 'primary' }, 'Save caption');
  const update = () => {
    const c = captionCounts(caption.value, splitHashtags(hashtags.value));
    const over = c.characters > MAX_CAPTION || c.hashtags > MAX_HASHTAGS || c.mentions > MAX_MENTIONS;
    counts.className = over ? 'counts over' : 'counts';
    counts.textContent = `${c.characters} / ${MAX_CAPTION} characters · ${c.hashtags} / ${MAX_HASHTAGS} hashtags · ${c.mentions} / ${MAX_MENTIONS} mentions${over ? ' — over Instagram’s limit' : ''}`;
    save.disabled = over;
  };
  caption.addEventListener('input', update);
  hashtags.addEventListener('input', update);
  caption.setAttribute('aria-describedby', counts.id);
  update();
  const form = h('form', { class: 'caption-editor' }, field('Caption', caption), field('Hashtags', hashtags, 'Separated by spaces; added after the caption.'), counts, h('div', { class: 'actions' }, save));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    save.disabled = true;
    try { await onSave({ caption: caption.value, hashtags: splitHashtags(hashtags.value) }); notify('Caption saved.'); }
    catch (error) { notify(errorText(error), 'error'); }
    finally { update(); }
  });
  return form;
}

export async function createView(main, ctx) {
  const [templates, matches, accounts, assets] = await Promise.all([
    ctx.rows.select('templates', 'key,name,content_type,format,spec,is_active', {}, 'content_type.asc'),
    loadMatches(ctx),
    ctx.rows.select('instagram_accounts', ACCOUNT_COLUMNS, { workspace_id: ctx.workspace.id }, 'created_at.asc'),
    loadAssets(ctx, null),
  ]);
  const fieldsByType = {};
  for (const t of templates.filter((t) => t.is_active)) fieldsByType[t.content_type] = { ...(t.spec.fields || {}), ...(fieldsByType[t.content_type] || {}) };
  const examples = Object.fromEntries(templates.map((t) => [t.content_type, t.spec.example || {}]));
  const type = h('select', { name: 'content_type' }, Object.keys(fieldsByType).map((k) => h('option', { value: k }, TYPE_NAMES[k] || k)));
  const match = h('select', { name: 'match_id' }, h('option', { value: '' }, 'No match'), matches.map((m) => h('option', { value: m.id }, matchLabel(m, ctx.workspace.timezone))));
  const account = h('select', { name: 'instagram_account_id' }, accounts.filter((a) => a.status === 'active').map((a) => h('option', { value: a.id }, `@${a.username}`)));
  const format = h('select', { name: 'format' }, Object.entries(FORMATS).map(([k, label]) => h('option', { value: k }, label)));
  const tone = h('input', { type: 'text', name: 'tone', placeholder: 'e.g. proud, upbeat' });
  const dataFields = h('fieldset', { class: 'data' }, h('legend', {}, 'Details'));
  const drawFields = () => {
    const fields = fieldsByType[type.value] || {};
    const example = examples[type.value] || {};
    dataFields.replaceChildren(h('legend', {}, 'Details (a chosen match fills what you leave empty)'),
      ...Object.entries(fields).filter(([name]) => name !== 'hashtags').map(([name, description]) => {
        const stats = name === 'stats';
        const input = stats ? h('textarea', { name, rows: 3, 'data-kind': 'stats', placeholder: 'Tackles: 7' }) : h('input', { type: 'text', name, placeholder: example[name] !== undefined && typeof example[name] !== 'object' ? String(example[name]) : '' });
        return field(name.replace(/_/g, ' '), input, stats ? 'One “label: value” per line.' : description);
      }));
  };
  if (fieldsByType.match_result) type.value = 'match_result';
  type.addEventListener('change', drawFields);
  drawFields();
  if (matches.some((m) => m.status === 'finished')) match.value = matches.find((m) => m.status === 'finished').id;
  const photos = h('fieldset', { class: 'photos pick' }, h('legend', {}, 'Photos (none: the template picks from the match’s photos)'),
    assets.map((a) => h('label', { class: 'photo' },
      h('input', { type: 'checkbox', name: 'asset', value: a.id }),
      h('img', { src: a.preview_url, alt: a.tags.length ? `Photo tagged ${a.tags.join(', ')}` : `Photo ${a.width}×${a.height}`, loading: 'lazy', width: 120 }))));
  const generate = h('button', { type: 'submit', class: 'primary' }, 'Generate');
  const result = h('section', { class: 'result', 'aria-live': 'polite', 'aria-labelledby': 'result-title' });
  const form = h('form', { class: 'card', 'aria-labelledby': 'create-title' },
    h('h1', { id: 'create-title' }, 'Create a post'),
    h('div', { class: 'grid2' }, field('Content type', type), field('Match', match), field('Instagram account', account), field('Format', format), field('Tone (optional)', tone)),
    dataFields, photos, h('div', { class: 'actions' }, generate));
  let previous = null;

  const body = () => {
    const data = {};
    for (const input of dataFields.querySelectorAll('input, textarea')) {
      const v = value(input);
      if (v !== undefined) data[input.name] = v;
    }
    const chosen = [...photos.querySelectorAll('input:checked')].map((i) => i.value);
    return {
      workspace_id: ctx.workspace.id,
      content_type: type.value,
      data,
      match_id: match.value || undefined,
      asset_ids: chosen.length ? chosen : undefined,
      format: format.value,
      instagram_account_id: account.value || undefined,
      tone: tone.value.trim() || undefined,
    };
  };

  const show = (made) => {
    const post = made.post;
    result.replaceChildren(
      h('h2', { id: 'result-title' }, 'Your post'),
      h('div', { class: 'made' },
        h('div', { class: 'images' }, made.images.map((image) => h('img', { src: image.url, alt: made.alt_text || 'The generated graphic', width: image.width, height: image.height, class: 'graphic' }))),
        h('div', {},
          h('p', { class: 'hint' }, `Template ${made.template_key}; caption ${SOURCES[made.caption_source] || made.caption_source}.`),
          captionEditor(post, (changes) => ctx.api.patch('posts', `/${post.id}`, changes)),
          h('div', { class: 'actions' },
            h('button', { type: 'button', onclick: () => run(true) }, 'Regenerate'),
            h('a', { class: 'button', href: `#/plan?post=${post.id}` }, 'Schedule it')))),
    );
  };

  const run = async (again) => {
    generate.disabled = true;
    notify(again ? 'Generating again…' : 'Generating…');
    try {
      const made = await ctx.api.post('generate-content', '/', body());
      if (again && previous) await ctx.api.post('posts', `/${previous.post.id}/cancel`).catch(() => null); // the discarded draft
      previous = made;
      show(made);
      notify('The post is ready as a draft.');
      result.querySelector('h2').focus?.();
    } catch (error) {
      notify(errorText(error), 'error');
    } finally {
      generate.disabled = false;
    }
  };
  form.addEventListener('submit', (event) => { event.preventDefault(); run(false); });
  fill(main, form, result);
  if (!accounts.length) notify('Connect an Instagram account first to schedule what you create.');
}
