// Who is signed in. Production: Supabase Auth (supabase-js). `make run`: the dev server's own sign-in.

const DEV_KEY = 'sociallab.dev-session';

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = src;
    script.onload = resolve;
    script.onerror = () => reject(new Error(`${src} could not be loaded.`));
    document.head.append(script);
  });
}

class DevSession {
  constructor(config) {
    this.config = config;
    this.dev = true;
    const stored = JSON.parse(sessionStorage.getItem(DEV_KEY) || 'null');
    this.current = stored && stored.expires_at > Date.now() ? stored : null;
  }

  get user() { return this.current && this.current.user; }
  async token() { return this.current ? this.current.access_token : ''; }

  async signIn(email) {
    const response = await fetch(new URL('dev/auth/sign-in', new URL('..', import.meta.url)), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email }),
    });
    const data = await response.json();
    if (!response.ok) throw new Error(data.error || 'Sign-in failed.');
    this.current = { ...data, expires_at: Date.now() + 7 * 3600 * 1000 };
    sessionStorage.setItem(DEV_KEY, JSON.stringify(this.current));
  }

  async signOut() {
    this.current = null;
    sessionStorage.removeItem(DEV_KEY);
  }
}

class SupabaseSession {
  constructor(config, client, session) {
    this.config = config;
    this.dev = false;
    this.client = client;
    this.current = session;
    client.auth.onAuthStateChange((_event, next) => { this.current = next; });
  }

  get user() { return this.current && this.current.user; }

  async token() {
    const { data } = await this.client.auth.getSession(); // refreshes an expiring token
    this.current = data.session;
    return data.session ? data.session.access_token : '';
  }

  async signIn(email, password) {
    const { data, error } = await this.client.auth.signInWithPassword({ email, password });
    if (error) throw new Error(error.message);
    this.current = data.session;
  }

  async sendLink(email) {
    const redirect = new URL('..', import.meta.url).href;
    const { error } = await this.client.auth.signInWithOtp({ email, options: { emailRedirectTo: redirect, shouldCreateUser: false } });
    if (error) throw new Error(error.message);
  }

  async signOut() {
    await this.client.auth.signOut();
    this.current = null;
  }
}

export async function openSession(config) {
  if (config.devSignIn) return new DevSession(config);
  await loadScript(new URL('../vendor/supabase-js/supabase.js', import.meta.url).href);
  const client = window.supabase.createClient(config.supabaseUrl, config.supabaseAnonKey);
  const { data } = await client.auth.getSession();
  return new SupabaseSession(config, client, data.session);
}
