// Photos: upload (with progress and the API's errors in words), connect a Drive folder, filter by match and tag.
import { errorText, field, fill, formatTime, h, notify, statusBadge } from '../ui.js';

export async function loadMatches(ctx) {
  return ctx.rows.select('matches', 'id,opponent,kickoff_at,is_home,status,home_score,away_score,competition,venue', { workspace_id: ctx.workspace.id }, 'kickoff_at.desc');
}

export function matchLabel(match, timeZone) {
  const score = match.home_score !== null && match.away_score !== null ? ` ${match.home_score}–${match.away_score}` : '';
  return `${match.is_home ? 'vs' : 'at'} ${match.opponent}${score} · ${formatTime(match.kickoff_at, timeZone)}`;
}

export async function loadAssets(ctx, matchId) {
  const items = [];
  let cursor = null;
  do {
    const page = await ctx.api.get('assets', '/', { workspace_id: ctx.workspace.id, match_id: matchId, cursor, limit: 100 });
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && items.length < 500);
  return items;
}

export function photoCard(asset, extra) {
  const description = asset.tags.length ? `Photo tagged ${asset.tags.join(', ')}` : `Photo ${asset.width}×${asset.height}`;
  return h('figure', { class: 'photo' },
    h('img', { src: asset.preview_url, alt: description, loading: 'lazy', width: 160, height: Math.round(160 * asset.height / asset.width) }),
    h('figcaption', {}, asset.tags.length ? asset.tags.map((t) => `#${t}`).join(' ') : `${asset.width}×${asset.height}`),
    extra || null);
}

function uploadForm(ctx, matches, refresh) {
  const file = h('input', { type: 'file', name: 'file', accept: 'image/jpeg,image/png,image/webp,image/heic,image/heif', multiple: true, required: true });
  const tags = h('input', { type: 'text', name: 'tags', placeholder: 'e.g. goal, fans' });
  const match = h('select', { name: 'match_id' }, h('option', { value: '' }, 'No match'), matches.map((m) => h('option', { value: m.id }, matchLabel(m, ctx.workspace.timezone))));
  const progress = h('ul', { class: 'uploads', 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Upload');
  const form = h('form', { class: 'card', 'aria-labelledby': 'upload-title' },
    h('h2', { id: 'upload-title' }, 'Upload photos'),
    field('Photos', file, 'JPEG, PNG, WebP or HEIC, up to 40 MB each.'),
    field('Tags', tags, 'Separated by commas.'),
    field('Match', match),
    h('div', { class: 'actions' }, submit),
    progress);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    submit.disabled = true;
    let done = 0;
    for (const chosen of file.files) {
      const bar = h('progress', { max: 100, value: 0, 'aria-label': `Uploading ${chosen.name}` });
      const line = h('li', {}, h('span', {}, chosen.name), bar);
      progress.append(line);
      const body = new FormData();
      body.append('workspace_id', ctx.workspace.id);
      body.append('file', chosen);
      if (tags.value.trim()) body.append('tags', tags.value);
      if (match.value) body.append('match_id', match.value);
      try {
        await ctx.api.upload('assets', '/', body, (fraction) => { bar.value = Math.round(fraction * 100); });
        bar.value = 100;
        line.append(h('span', { class: 'ok' }, ' Uploaded'));
        done += 1;
      } catch (error) {
        bar.remove();
        line.append(h('span', { class: 'error' }, ` Not uploaded: ${errorText(error)}`));
      }
    }
    submit.disabled = false;
    form.reset();
    if (done) { await refresh(); notify(`${done} photo${done === 1 ? '' : 's'} uploaded.`); }
  });
  return form;
}

async function driveSection(ctx) {
  const section = h('section', { class: 'card', 'aria-labelledby': 'drive-title' }, h('h2', { id: 'drive-title' }, 'Google Drive folders'));
  const sources = await ctx.rows.select('drive_sources', 'id,folder_id,folder_name,status,last_synced_at,last_error', { workspace_id: ctx.workspace.id }, 'created_at.asc');
  const list = h('ul', { class: 'sources' });
  const show = (source, verification) => {
    const item = h('li', {}, h('strong', {}, source.folder_name || source.folder_id), ' ', statusBadge(source.status),
      source.last_synced_at ? h('span', { class: 'hint' }, ` last synced ${formatTime(source.last_synced_at, ctx.workspace.timezone)}`) : null,
      source.last_error ? h('p', { class: 'error' }, source.last_error) : null);
    if (source.status === 'pending') {
      item.append(h('p', {}, verification
        ? `To prove this folder is yours, create a folder or file named exactly “${verification.file_name}” in it, then check.`
        : 'Create the verification folder named when you connected it, then check.'));
      item.append(h('button', { type: 'button', onclick: async () => {
        try { await ctx.api.post('drive-sync', `/sources/${source.id}/verify`); notify('Folder verified: photos will be imported.'); item.replaceWith(show({ ...source, status: 'active' })); }
        catch (error) { notify(errorText(error), 'error'); }
      } }, 'Check the folder'));
    } else if (source.status === 'active') {
      item.append(' ', h('button', { type: 'button', onclick: async () => {
        try {
          const result = await ctx.api.post('drive-sync', '/', { source_id: source.id });
          notify(`Drive sync: ${result.imported} imported, ${result.skipped} unchanged, ${result.failed} failed.`);
        } catch (error) { notify(errorText(error), 'error'); }
      } }, 'Sync now'));
    }
    return item;
  };
  sources.forEach((s) => list.append(show(s)));
  const folder = h('input', { type: 'text', name: 'folder_id', required: true, pattern: '[A-Za-z0-9_-]+', placeholder: 'the id at the end of the folder’s URL' });
  const form = h('form', {}, field('Drive folder id', folder, 'Share the folder with the service account (Viewer) first.'), h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Connect folder')));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const source = await ctx.api.post('drive-sync', '/sources', { workspace_id: ctx.workspace.id, folder_id: folder.value.trim() });
      list.append(show(source, source.verification));
      form.reset();
    } catch (error) { notify(errorText(error), 'error'); }
  });
  section.append(...[sources.length ? null : h('p', {}, 'No Drive folder is connected.'), list, form].filter(Boolean));
  return section;
}

export async function libraryView(main, ctx) {
  const matches = await loadMatches(ctx);
  const matchFilter = h('select', { id: 'filter-match' }, h('option', { value: '' }, 'All matches'), matches.map((m) => h('option', { value: m.id }, matchLabel(m, ctx.workspace.timezone))));
  const tagFilter = h('select', { id: 'filter-tag' }, h('option', { value: '' }, 'All tags'));
  const grid = h('div', { class: 'photos', 'aria-live': 'polite' });
  let assets = [];
  const draw = () => {
    const shown = assets.filter((a) => !tagFilter.value || a.tags.includes(tagFilter.value));
    grid.replaceChildren(...(shown.length ? shown.map((a) => photoCard(a)) : [h('p', {}, 'No photos match.')]));
  };
  const refresh = async () => {
    assets = await loadAssets(ctx, matchFilter.value || null);
    const chosen = tagFilter.value;
    const tags = [...new Set(assets.flatMap((a) => a.tags))].sort();
    fill(tagFilter, h('option', { value: '' }, 'All tags'), tags.map((t) => h('option', { value: t, selected: t === chosen }, t)));
    draw();
  };
  matchFilter.addEventListener('change', () => refresh().catch((e) => notify(errorText(e), 'error')));
  tagFilter.addEventListener('change', draw);
  const editor = ctx.workspace.role !== 'viewer';
  fill(main, 
    h('h1', {}, 'Library'),
    editor ? uploadForm(ctx, matches, refresh) : null,
    h('section', { 'aria-labelledby': 'photos-title' },
      h('h2', { id: 'photos-title' }, 'Photos'),
      h('div', { class: 'filters' }, field('Match', matchFilter), field('Tag', tagFilter)),
      grid),
    await driveSection(ctx),
  );
  await refresh();
}
