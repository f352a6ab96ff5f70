// The transfer format in the browser (WebCrypto), byte for byte the same as client/ece.py and
// client/metadata.py: RFC 8188 aes128gcm with 64 KiB records, metadata sealed with
// HKDF(secret, "metadata"), share links <origin>/t/<id>#<download token>.<secret>. See README "Format".
'use strict';

const TransferFormat = (() => {
  const RECORD_SIZE = 65536;
  const TAG_BYTES = 16;
  const RECORD_OVERHEAD = TAG_BYTES + 1;
  const PLAINTEXT_PER_RECORD = RECORD_SIZE - RECORD_OVERHEAD;
  const HEADER_BYTES = 21;
  const MIN_RECORD_SIZE = RECORD_OVERHEAD + 1;
  const MAX_RECORD_SIZE = 16 * 1024 * 1024;
  const encoder = new TextEncoder();

  class FormatError extends Error {}

  function b64url(bytes) {
    let text = '';
    for (let i = 0; i < bytes.length; i += 1) text += String.fromCharCode(bytes[i]);
    return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function unb64url(text) {
    if (!/^[A-Za-z0-9_-]+$/.test(text)) throw new FormatError('not base64url');
    const padded = text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4);
    let binary;
    try {
      binary = atob(padded);
    } catch (error) {
      throw new FormatError('not base64url');
    }
    return Uint8Array.from(binary, (c) => c.charCodeAt(0));
  }

  function concat(chunks) {
    const total = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
    const out = new Uint8Array(total);
    let offset = 0;
    for (const chunk of chunks) {
      out.set(chunk, offset);
      offset += chunk.length;
    }
    return out;
  }

  async function hkdf(ikm, salt, info, length) {
    const key = await crypto.subtle.importKey('raw', ikm, 'HKDF', false, ['deriveBits']);
    const params = { name: 'HKDF', hash: 'SHA-256', salt, info: encoder.encode(info) };
    return new Uint8Array(await crypto.subtle.deriveBits(params, key, length * 8));
  }

  function recordCount(size) {
    return Math.max(1, Math.ceil(size / PLAINTEXT_PER_RECORD));
  }

  function ciphertextSize(size) {
    return HEADER_BYTES + size + RECORD_OVERHEAD * recordCount(size);
  }

  function encodeHeader(salt, recordSize) {
    const header = new Uint8Array(HEADER_BYTES);
    header.set(salt, 0);
    new DataView(header.buffer).setUint32(16, recordSize);
    header[20] = 0;
    return header;
  }

  function parseHeader(bytes) {
    if (bytes.length < HEADER_BYTES) return null;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const recordSize = view.getUint32(16);
    const idLength = bytes[20];
    if (bytes.length < HEADER_BYTES + idLength) return null;
    if (recordSize < MIN_RECORD_SIZE || recordSize > MAX_RECORD_SIZE) {
      throw new FormatError(`record size ${recordSize} is out of range`);
    }
    return { salt: bytes.slice(0, 16), recordSize, length: HEADER_BYTES + idLength };
  }

  // The content-encryption key and nonce base of one stream (RFC 8188 §2.2, §2.3).
  class RecordKeys {
    static async derive(ikm, salt) {
      const keys = new RecordKeys();
      const cek = await hkdf(ikm, salt, 'Content-Encoding: aes128gcm\0', 16);
      keys.key = await crypto.subtle.importKey('raw', cek, 'AES-GCM', false, ['encrypt', 'decrypt']);
      keys.nonceBase = await hkdf(ikm, salt, 'Content-Encoding: nonce\0', 12);
      return keys;
    }

    nonce(sequence) {
      const nonce = this.nonceBase.slice();
      let rest = sequence;
      for (let i = 11; i >= 0 && rest > 0; i -= 1) {
        nonce[i] ^= rest % 256;
        rest = Math.floor(rest / 256);
      }
      return nonce;
    }

    async seal(sequence, plaintext, last) {
      const padded = new Uint8Array(plaintext.length + 1);
      padded.set(plaintext);
      padded[plaintext.length] = last ? 2 : 1;
      const sealed = await crypto.subtle.encrypt({ name: 'AES-GCM', iv: this.nonce(sequence) }, this.key, padded);
      return new Uint8Array(sealed);
    }

    async open(sequence, record) {
      let padded;
      try {
        padded = new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: this.nonce(sequence) }, this.key, record));
      } catch (error) {
        throw new FormatError(`record ${sequence} failed authentication`);
      }
      let end = padded.length;
      while (end > 0 && padded[end - 1] === 0) end -= 1;
      if (end === 0) throw new FormatError(`record ${sequence} has no delimiter`);
      const delimiter = padded[end - 1];
      if (delimiter !== 1 && delimiter !== 2) throw new FormatError(`record ${sequence} has a bad delimiter`);
      return { plaintext: padded.subarray(0, end - 1), last: delimiter === 2 };
    }
  }

  // Incremental reader: feed() bytes as they arrive, get verified plaintext back, then finish().
  class Decryptor {
    constructor(ikm) {
      this.ikm = ikm;
      this.header = null;
      this.keys = null;
      this.sequence = 0;
      this.buffer = new Uint8Array(0);
      this.done = false;
    }

    async feed(data) {
      if (this.done && data.length) throw new FormatError('data after the last record');
      this.buffer = this.buffer.length ? concat([this.buffer, data]) : data;
      const out = [];
      if (!this.header) {
        const header = parseHeader(this.buffer);
        if (!header) return out;
        this.header = header;
        this.keys = await RecordKeys.derive(this.ikm, header.salt);
        this.buffer = this.buffer.slice(header.length);
      }
      const size = this.header.recordSize;
      while (this.buffer.length >= size && !this.done) {
        out.push(await this.openNext(size));
      }
      if (this.done && this.buffer.length) throw new FormatError('data after the last record');
      return out;
    }

    async finish() {
      if (!this.header) throw new FormatError('the stream ends inside its header');
      const out = [];
      if (this.buffer.length && !this.done) out.push(await this.openNext(this.buffer.length));
      if (!this.done) throw new FormatError('the stream was truncated: its last record is missing');
      return out;
    }

    async openNext(length) {
      if (length <= TAG_BYTES) throw new FormatError(`record ${this.sequence} is too short`);
      const record = this.buffer.slice(0, length);
      this.buffer = this.buffer.slice(length);
      const { plaintext, last } = await this.keys.open(this.sequence, record);
      this.sequence += 1;
      this.done = last;
      return plaintext;
    }
  }

  // Seals a File record by record, in order, a batch of records at a time.
  async function* encryptFile(file, secret, salt, batchRecords = 16) {
    const keys = await RecordKeys.derive(secret, salt);
    yield encodeHeader(salt, RECORD_SIZE);
    const records = recordCount(file.size);
    for (let first = 0; first < records; first += batchRecords) {
      const last = Math.min(records, first + batchRecords);
      const start = first * PLAINTEXT_PER_RECORD;
      const slice = new Uint8Array(await file.slice(start, Math.min(file.size, last * PLAINTEXT_PER_RECORD)).arrayBuffer());
      const sealed = [];
      for (let sequence = first; sequence < last; sequence += 1) {
        const offset = (sequence - first) * PLAINTEXT_PER_RECORD;
        const plaintext = slice.subarray(offset, Math.min(slice.length, offset + PLAINTEXT_PER_RECORD));
        sealed.push(keys.seal(sequence, plaintext, sequence === records - 1));
      }
      for (const record of await Promise.all(sealed)) yield record;
    }
  }

  async function metadataKey(secret) {
    const raw = await hkdf(secret, new Uint8Array(0), 'metadata', 16);
    return crypto.subtle.importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt']);
  }

  async function sealMetadata(secret, metadata) {
    const nonce = crypto.getRandomValues(new Uint8Array(12));
    const json = JSON.stringify({ name: metadata.name, size: metadata.size, type: metadata.type || 'application/octet-stream' });
    const sealed = await crypto.subtle.encrypt({ name: 'AES-GCM', iv: nonce }, await metadataKey(secret), encoder.encode(json));
    return b64url(concat([nonce, new Uint8Array(sealed)]));
  }

  async function openMetadata(secret, sealed) {
    if (!sealed) throw new FormatError('the transfer carries no metadata');
    const raw = unb64url(sealed);
    if (raw.length < 28) throw new FormatError('the metadata is too short');
    let plaintext;
    try {
      plaintext = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: raw.subarray(0, 12) }, await metadataKey(secret), raw.subarray(12));
    } catch (error) {
      throw new FormatError("the link's key does not open this transfer");
    }
    const document = JSON.parse(new TextDecoder().decode(plaintext));
    if (typeof document.name !== 'string' || !Number.isSafeInteger(document.size) || document.size < 0) {
      throw new FormatError('the metadata is malformed');
    }
    return { name: document.name, size: document.size, type: String(document.type || 'application/octet-stream') };
  }

  function shareLink(origin, id, token, secret) {
    return `${origin}/t/${id}#${token}.${b64url(secret)}`;
  }

  // (id, token, secret) from this page's own location; FormatError when the link is damaged.
  function parseLocation(location) {
    const match = /\/t\/([A-Za-z0-9_-]{22})$/.exec(location.pathname);
    const fragment = /^#([A-Za-z0-9_-]{43})\.([A-Za-z0-9_-]{22})$/.exec(location.hash);
    if (!match || !fragment) throw new FormatError('this link is incomplete or damaged: copy the whole link');
    const secret = unb64url(fragment[2]);
    if (secret.length !== 16) throw new FormatError('this link is damaged');
    return { id: match[1], token: fragment[1], secret };
  }

  return {
    RECORD_SIZE,
    PLAINTEXT_PER_RECORD,
    HEADER_BYTES,
    FormatError,
    b64url,
    unb64url,
    concat,
    recordCount,
    ciphertextSize,
    parseHeader,
    RecordKeys,
    Decryptor,
    encryptFile,
    sealMetadata,
    openMetadata,
    shareLink,
    parseLocation,
  };
})();
