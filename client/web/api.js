// The transfer API from the page: JSON calls with retries, presigned PUTs with upload progress,
// and the live event stream read with fetch (EventSource cannot send an Authorization header,
// and tokens must not travel in URLs, where logs keep them).
'use strict';

const TransferApi = (() => {
  const RETRY_STATUSES = new Set([429, 502, 503, 504]);
  const ATTEMPTS = 10; // with the backoff below, a request rides out at least ~25 s of outage

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  // Exponential backoff with "equal jitter": half the delay fixed, half random.
  const backoff = (attempt) => {
    const delay = Math.min(8000, 500 * 2 ** (attempt - 1));
    return sleep(delay / 2 + Math.random() * (delay / 2));
  };

  async function errorOf(response) {
    let code = 'http_error';
    let message = `${response.status} ${response.statusText}`;
    try {
      const body = await response.json();
      code = body.error.code;
      message = body.error.message;
    } catch (error) {
      // not the API's JSON error (for example a proxy's page)
    }
    return new ApiError(response.status, code, message);
  }

  // fetch() with retries on network failures and 429/502/503/504; other errors throw ApiError.
  async function request(method, path, { token, json, body, headers = {} } = {}) {
    const init = { method, headers: { ...headers }, cache: 'no-store', referrerPolicy: 'no-referrer' };
    if (token) init.headers.authorization = `Bearer ${token}`;
    if (json !== undefined) {
      init.headers['content-type'] = 'application/json';
      init.body = JSON.stringify(json);
    } else if (body !== undefined) {
      init.body = body;
    }
    for (let attempt = 1; ; attempt += 1) {
      let response;
      try {
        response = await fetch(path, init);
      } catch (error) {
        if (attempt >= ATTEMPTS) throw new ApiError(0, 'network', 'the service cannot be reached; check your connection');
        await backoff(attempt);
        continue;
      }
      if (response.ok || response.status === 303) return response;
      if (!RETRY_STATUSES.has(response.status) || attempt >= ATTEMPTS) throw await errorOf(response);
      await backoff(attempt);
    }
  }

  async function json(method, path, options) {
    const response = await request(method, path, options);
    return response.status === 204 ? null : response.json();
  }

  // PUT a body to a presigned URL with exactly the signed headers; onProgress(bytesSentSoFar).
  function putOnce(url, headers, body, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open('PUT', url);
      for (const [name, value] of Object.entries(headers)) {
        if (name.toLowerCase() !== 'content-length') xhr.setRequestHeader(name, value); // set from the body
      }
      xhr.upload.onprogress = (event) => onProgress(event.loaded);
      xhr.onload = () => (xhr.status < 300 ? resolve() : reject(new ApiError(xhr.status, 'storage_refused', xhr.responseText.slice(0, 200))));
      xhr.onerror = () => reject(new ApiError(0, 'network', 'the upload connection failed'));
      xhr.send(body);
    });
  }

  async function putWithRetries(sign, body, onProgress) {
    for (let attempt = 1; ; attempt += 1) {
      const { url, headers } = await sign();
      try {
        await putOnce(url, headers, body, onProgress);
        onProgress(body.byteLength);
        return;
      } catch (error) {
        if (error.status === 412 && attempt > 1 && 'if-none-match' in headers) {
          onProgress(body.byteLength); // create-only: an earlier attempt stored it before its answer was lost
          return;
        }
        onProgress(0);
        const transient = error.status === 0 || error.status === 403 || error.status >= 500 || error.status === 429;
        if (!transient || attempt >= ATTEMPTS) throw error;
        await backoff(attempt);
      }
    }
  }

  // Server-sent events over fetch, reconnecting with Last-Event-ID; onEvent(name, data). Returns stop().
  function followEvents(path, token, onEvent, onTrouble) {
    let stopped = false;
    let controller = null;
    let lastId = null;
    let retryMs = 3000;
    async function once() {
      controller = new AbortController();
      const headers = { authorization: `Bearer ${token}` };
      if (lastId) headers['last-event-id'] = lastId;
      const response = await fetch(path, { headers, cache: 'no-store', signal: controller.signal });
      if (!response.ok) throw await errorOf(response);
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let pending = '';
      let event = { name: 'message', data: [] };
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return true;
        pending += value;
        const lines = pending.split(/\r\n|\r|\n/);
        pending = lines.pop();
        for (const line of lines) {
          if (line === '') {
            if (event.data.length) {
              const data = JSON.parse(event.data.join('\n'));
              if (event.name === 'end' && !data.reconnect) {
                onEvent('end', data);
                return false;
              }
              onEvent(event.name, data);
            }
            event = { name: 'message', data: [] };
          } else if (!line.startsWith(':')) {
            const colon = line.indexOf(':');
            const field = colon < 0 ? line : line.slice(0, colon);
            const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
            if (field === 'event') event.name = value;
            else if (field === 'data') event.data.push(value);
            else if (field === 'id') lastId = value;
            else if (field === 'retry' && /^\d+$/.test(value)) retryMs = Number(value);
          }
        }
      }
    }
    (async () => {
      while (!stopped) {
        try {
          if (!(await once())) return;
        } catch (error) {
          if (stopped) return;
          if (error instanceof ApiError && error.status !== 0 && error.status < 500) {
            onTrouble(error);
            return;
          }
        }
        await sleep(retryMs);
      }
    })();
    return () => {
      stopped = true;
      if (controller) controller.abort();
    };
  }

  return { ApiError, request, json, putWithRetries, followEvents, sleep, backoff, ATTEMPTS };
})();
