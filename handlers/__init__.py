"""The zero-knowledge file-transfer API: one streaming dispatcher (`handlers.app.handler`) and the
route handlers behind it. The server keeps state, authorises and signs URLs; it never sees a key
or plaintext. It uses the runtime only through `runtime.streaming` and the response stream."""
