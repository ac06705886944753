// Where the API and Supabase are: config.json beside index.html (written at deploy time; `make run` serves its own).
export async function loadConfig() {
  const response = await fetch(new URL('../config.json', import.meta.url), { cache: 'no-store' });
  if (!response.ok) throw new Error(`config.json could not be loaded (HTTP ${response.status}).`);
  const config = await response.json();
  for (const key of ['apiBase', 'supabaseUrl', 'supabaseAnonKey']) {
    if (!config[key]) throw new Error(`config.json has no ${key}.`);
  }
  return { ...config, apiBase: config.apiBase.replace(/\/+$/, ''), supabaseUrl: config.supabaseUrl.replace(/\/+$/, '') };
}
