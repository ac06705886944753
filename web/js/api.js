// The public HTTP contract (API.md): every call carries the user's token; errors become ApiError in words.

export class ApiError extends Error {
  constructor(status, body, retryAfter, requestId) {
    const error = (body && body.error) || {};
    super(error.message || (status === 0 ? 'The API could not be reached. Check your connection and try again.' : `The API answered HTTP ${status}.`));
    this.status = status;
    this.code = error.code || (status === 0 ? 'network' : 'http_' + status);
    this.details = error.details || [];
    this.retryAfter = retryAfter;
    this.requestId = error.request_id || requestId || null;
  }

  /** A sentence for a person: the API's message, what each field needs, when to try again, and for
   *  a server error the reference that finds its logs (README, "Runbook"). */
  explain() {
    const parts = [this.message];
    for (const detail of this.details) {
      if (detail && detail.message && detail.message !== this.message) {
        parts.push(detail.field ? `${detail.field}: ${detail.message}` : detail.message);
      }
    }
    if (this.status === 429 && this.retryAfter) parts.push(`Try again in ${this.retryAfter} s.`);
    if (this.status === 401) parts.push('Sign in again.');
    if (this.status >= 500 && this.requestId) parts.push(`Reference for support: ${this.requestId}.`);
    return parts.join(' ');
  }
}

export class Api {
  constructor(config, token) {
    this.base = config.apiBase;
    this.functionUrls = config.functionUrls || {};
    this.token = token; // () => Promise<string>
  }

  url(fn, path, query) {
    const url = new URL(`${this.functionUrls[fn] || `${this.base}/${fn}`}${path}`);
    for (const [key, value] of Object.entries(query || {})) {
      if (value !== undefined && value !== null && value !== '') url.searchParams.set(key, value);
    }
    return url;
  }

  async call(method, fn, path, { query, body } = {}) {
    const headers = { Authorization: `Bearer ${await this.token()}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let response;
    try {
      response = await fetch(this.url(fn, path, query), { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch {
      throw new ApiError(0, null, null, null);
    }
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = null; }
    if (!response.ok) {
      throw new ApiError(response.status, data, response.headers.get('Retry-After'), response.headers.get('X-Request-Id'));
    }
    return data;
  }

  get(fn, path, query) { return this.call('GET', fn, path, { query }); }
  post(fn, path, body = {}) { return this.call('POST', fn, path, { body }); }
  patch(fn, path, body) { return this.call('PATCH', fn, path, { body }); }
  delete(fn, path) { return this.call('DELETE', fn, path); }

  /** Multipart upload with progress (fetch cannot report upload progress; XMLHttpRequest can). */
  async upload(fn, path, form, onProgress) {
    const token = await this.token();
    return new Promise((resolve, reject) => {
      const request = new XMLHttpRequest();
      request.open('POST', this.url(fn, path));
      request.setRequestHeader('Authorization', `Bearer ${token}`);
      request.upload.addEventListener('progress', (event) => {
        if (event.lengthComputable) onProgress(event.loaded / event.total);
      });
      request.addEventListener('load', () => {
        let data = null;
        try { data = JSON.parse(request.responseText); } catch { data = null; }
        if (request.status >= 200 && request.status < 300) resolve(data);
        else reject(new ApiError(request.status, data, request.getResponseHeader('Retry-After'), request.getResponseHeader('X-Request-Id')));
      });
      request.addEventListener('error', () => reject(new ApiError(0, null, null, null)));
      request.send(form);
    });
  }
}
