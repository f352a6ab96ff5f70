// The send page: encrypt the chosen file record by record, upload the ciphertext (one request
// through the function for small files, presigned parts in parallel for large ones), show the link.
'use strict';

(() => {
  const F = TransferFormat;
  const A = TransferApi;
  const FAST_PATH_MAX_BYTES = 4669440; // the API's small-file limit (Lambda's 6 MiB event, base64)
  const PARALLEL_PARTS = 3;
  const $ = (id) => document.getElementById(id);

  function human(bytes) {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let value = bytes;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit += 1;
    }
    return `${value.toFixed(unit ? 1 : 0)} ${units[unit]}`;
  }

  function duration(seconds) {
    if (!Number.isFinite(seconds)) return '…';
    if (seconds < 60) return `${Math.ceil(seconds)} s`;
    return `${Math.floor(seconds / 60)} min ${Math.ceil(seconds % 60)} s`;
  }

  function describe(error) {
    if (error instanceof A.ApiError) {
      if (error.code === 'too_large') return `This file is too large for this service: ${error.message}`;
      if (error.status === 0) return 'The connection failed and did not come back. Check your network and send again.';
      return `The service refused the upload (${error.code}): ${error.message}`;
    }
    return `Something went wrong: ${error.message}`;
  }

  function fail(error) {
    $('error').textContent = describe(error);
    $('error').hidden = false;
    $('status').textContent = 'The upload stopped.';
    $('send').disabled = false;
  }

  // Progress of the bytes on their way out: total, per request in flight, rate and time left.
  class Meter {
    constructor(total) {
      this.total = total;
      this.finished = 0;
      this.inFlight = new Map();
      this.started = performance.now();
    }

    update(key, loaded) {
      this.inFlight.set(key, loaded);
      this.render();
    }

    done(key, size) {
      this.inFlight.delete(key);
      this.finished += size;
      this.render();
    }

    render() {
      let sent = this.finished;
      for (const loaded of this.inFlight.values()) sent += loaded;
      const seconds = (performance.now() - this.started) / 1000;
      const rate = seconds > 0 ? sent / seconds : 0;
      $('progress').value = this.total ? sent / this.total : 1;
      const left = rate > 0 ? (this.total - sent) / rate : Infinity;
      $('status').textContent = `Encrypting and uploading: ${human(sent)} of ${human(this.total)} · ${human(rate)}/s · ${duration(left)} left`;
    }
  }

  // Cuts the ciphertext stream into the planned parts, in order.
  async function* partsOf(stream, partSize, total) {
    let number = 1;
    let produced = 0;
    let part = new Uint8Array(Math.min(partSize, total));
    let fill = 0;
    for await (let piece of stream) {
      while (piece.length) {
        const take = Math.min(piece.length, part.length - fill);
        part.set(piece.subarray(0, take), fill);
        fill += take;
        piece = piece.subarray(take);
        if (fill === part.length) {
          yield { number, body: part };
          produced += part.length;
          number += 1;
          part = new Uint8Array(Math.min(partSize, total - produced));
          fill = 0;
        }
      }
    }
  }

  async function uploadParts(transfer, stream, size, meter) {
    const parts = partsOf(stream, transfer.upload.part_size, size);
    const path = `/transfers/${transfer.id}/parts`;
    const worker = async () => {
      for (;;) {
        const next = await parts.next(); // calls queue up, so parts come out once each, in order
        if (next.done) return;
        const { number, body } = next.value;
        const sign = async () => (await A.json('POST', path, { token: transfer.owner_token, json: { parts: [{ number }] } })).parts[0];
        await A.putWithRetries(sign, body, (loaded) => meter.update(number, loaded));
        meter.done(number, body.byteLength);
      }
    };
    await Promise.all(Array.from({ length: PARALLEL_PARTS }, worker));
  }

  async function uploadWhole(transfer, stream, size, meter) {
    const pieces = [];
    for await (const piece of stream) pieces.push(piece);
    const body = F.concat(pieces);
    if (size <= FAST_PATH_MAX_BYTES) {
      meter.update(1, 0);
      try {
        await A.request('PUT', `/transfers/${transfer.id}/ciphertext`, {
          token: transfer.owner_token,
          body,
          headers: { 'content-type': 'application/octet-stream' },
        });
      } catch (error) {
        if (!(error instanceof A.ApiError && error.code === 'already_complete')) throw error; // a retry whose answer was lost
      }
      meter.done(1, size);
      return true;
    }
    const { url, headers } = transfer.upload;
    await A.putWithRetries(async () => ({ url, headers }), body, (loaded) => meter.update(1, loaded));
    meter.done(1, size);
    return false;
  }

  async function send(file) {
    $('error').hidden = true;
    $('send').disabled = true;
    $('progress-section').hidden = false;
    $('status').textContent = 'Preparing…';
    const secret = crypto.getRandomValues(new Uint8Array(16));
    const salt = crypto.getRandomValues(new Uint8Array(16));
    const size = F.ciphertextSize(file.size);
    const metadata = await F.sealMetadata(secret, { name: file.name, size: file.size, type: file.type });
    const transfer = await A.json('POST', '/transfers', {
      json: {
        size,
        metadata,
        expires_in: Number($('expires-in').value),
        max_downloads: Number($('max-downloads').value),
      },
    });
    $('link').value = F.shareLink(location.origin, transfer.id, transfer.download_token, secret);
    $('share').hidden = false;
    const meter = new Meter(size);
    const stream = F.encryptFile(file, secret, salt);
    let completed = false;
    if (transfer.upload.method === 'multipart') await uploadParts(transfer, stream, size, meter);
    else completed = await uploadWhole(transfer, stream, size, meter);
    if (!completed) {
      try {
        await A.json('POST', `/transfers/${transfer.id}/complete`, { token: transfer.owner_token });
      } catch (error) {
        if (!(error instanceof A.ApiError && error.code === 'already_complete')) throw error;
      }
    }
    $('progress').value = 1;
    $('status').textContent = `Upload complete: ${file.name} (${human(file.size)}), encrypted. The link is ready.`;
    document.body.dataset.state = 'sent';
  }

  function showChosen() {
    const file = $('file').files[0];
    $('file-label').textContent = file ? `${file.name} · ${human(file.size)}` : 'Choose a file, or drop it here';
  }

  $('file').addEventListener('change', showChosen);
  const drop = $('drop');
  drop.addEventListener('dragover', (event) => {
    event.preventDefault();
    drop.classList.add('active');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('active'));
  drop.addEventListener('drop', (event) => {
    event.preventDefault();
    drop.classList.remove('active');
    if (event.dataTransfer.files.length) {
      $('file').files = event.dataTransfer.files;
      showChosen();
    }
  });
  $('send-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const file = $('file').files[0];
    if (file) send(file).catch(fail);
  });
  $('copy').addEventListener('click', async () => {
    const link = $('link');
    try {
      await navigator.clipboard.writeText(link.value);
    } catch (error) {
      link.select();
      document.execCommand('copy');
    }
    $('copy').textContent = 'Copied';
    setTimeout(() => {
      $('copy').textContent = 'Copy';
    }, 2000);
  });
})();
