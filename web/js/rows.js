// Rows the studio reads straight from Supabase (PostgREST), as the signed-in user under row level security.

export class Rows {
  constructor(supabaseUrl, anonKey, token) {
    this.base = `${supabaseUrl}/rest/v1`;
    this.anonKey = anonKey;
    this.token = token;
  }

  /** `select('matches', 'id,opponent', {workspace_id: id}, 'kickoff_at.desc')` -> rows. */
  async select(table, columns, filters = {}, order = null) {
    const url = new URL(`${this.base}/${table}`);
    url.searchParams.set('select', columns);
    for (const [column, value] of Object.entries(filters)) url.searchParams.set(column, `eq.${value}`);
    if (order) url.searchParams.set('order', order);
    const response = await fetch(url, {
      headers: { apikey: this.anonKey, Authorization: `Bearer ${await this.token()}`, Accept: 'application/json' },
    });
    if (!response.ok) {
      let message = `HTTP ${response.status}`;
      try { message = (await response.json()).message || message; } catch { /* not JSON */ }
      throw new Error(`Could not read ${table}: ${message}`);
    }
    return response.json();
  }
}
