// Where the API and Supabase are: config.json beside index.html (written at deploy time; `make run` serves its own).
// A function is at functionUrls[name] (its own URL, as Cloud Run gives it) or else at `${apiBase}/${name}`.
export async function loadConfig() {
  const response = await fetch(new URL('../config.json', import.meta.url), { cache: 'no-store' });
  if (!response.ok) throw new Error(`config.json could not be loaded (HTTP ${response.status}).`);
  const config = await response.json();
  for (const key of ['supabaseUrl', 'supabaseAnonKey']) {
    if (!config[key]) throw new Error(`config.json has no ${key}.`);
  }
  if (!config.apiBase && !config.functionUrls) throw new Error('config.json has neither apiBase nor functionUrls.');
  const trim = (url) => String(url || '').replace(/\/+$/, '');
  const functionUrls = Object.fromEntries(Object.entries(config.functionUrls || {}).map(([name, url]) => [name, trim(url)]));
  return { ...config, apiBase: trim(config.apiBase), functionUrls, supabaseUrl: trim(config.supabaseUrl) };
}
