// The receive page: read the key from the link's fragment (never sent anywhere), show the
// transfer's live state, then download, decrypt as it streams, verify and save under its name.
'use strict';

(() => {
  const F = TransferFormat;
  const A = TransferApi;
  const BLOB_EVERY_BYTES = 16 * 1024 * 1024; // hand plaintext to Blob storage in pieces, not one huge array
  const $ = (id) => document.getElementById(id);
  let view = null;
  let metadata = null;
  let phase = 'opening'; // opening -> waiting -> ready -> downloading -> saved | failed
  let stopEvents = () => {};

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

  function setState(text, name) {
    $('state').textContent = text;
    document.body.dataset.state = name;
  }

  function fail(message) {
    phase = 'failed';
    stopEvents();
    $('error').textContent = message;
    $('error').hidden = false;
    $('download').disabled = true;
    setState('', 'failed');
  }

  function describe(error) {
    if (error instanceof A.ApiError) {
      if (error.code === 'not_found') return 'This link is wrong, or the sender deleted the file.';
      if (error.code === 'expired') return 'This transfer has expired.';
      if (error.code === 'download_limit_reached') return 'This transfer has reached its download limit.';
      if (error.status === 0) return 'The connection failed and did not come back. Check your network and try again.';
      return `The service refused (${error.code}): ${error.message}`;
    }
    if (error instanceof F.FormatError) {
      return 'This file failed verification: the link is wrong or damaged, or the stored file was altered. Nothing was saved.';
    }
    return `Something went wrong: ${error.message}`;
  }

  function render() {
    if (phase === 'downloading' || phase === 'saved' || phase === 'failed') return;
    if (view.state === 'pending') {
      phase = 'waiting';
      const uploaded = view.bytes_uploaded || 0;
      const percent = view.size ? Math.floor((100 * uploaded) / view.size) : 0;
      $('progress').hidden = false;
      $('progress').value = view.size ? uploaded / view.size : 0;
      setState(`The sender is still uploading: ${percent}% (${human(uploaded)} of ${human(view.size)}). This page updates by itself.`, 'pending');
      $('download').disabled = true;
    } else if (view.state === 'ready' && view.downloads_remaining > 0) {
      phase = 'ready';
      $('progress').hidden = true;
      setState(`Ready to download · ${view.downloads_remaining} download(s) left · expires ${new Date(view.expires_at).toLocaleString()}`, 'ready');
      $('download').disabled = false;
    } else if (view.state === 'ready') {
      fail('This transfer has reached its download limit.');
    } else if (view.state === 'expired') {
      fail('This transfer has expired.');
    } else if (view.state === 'deleted') {
      fail('The sender deleted this transfer.');
    }
  }

  function onEvent(name, data) {
    if (name === 'state') {
      view = { ...view, ...data };
      render();
    } else if (name === 'end' && phase !== 'downloading' && phase !== 'saved') {
      const reasons = { expired: 'expired', deleted: 'deleted' };
      if (reasons[data.reason]) {
        view = { ...view, state: reasons[data.reason] };
        render();
      }
    }
  }

  async function fetchCiphertext(url, decryptor, onPlaintext, onBytes) {
    let received = 0;
    for (let attempt = 1; ; attempt += 1) {
      try {
        const headers = received ? { range: `bytes=${received}-` } : {};
        const response = await fetch(url, { headers, cache: 'no-store', referrerPolicy: 'no-referrer' });
        if (!response.ok || (received && response.status !== 206)) {
          throw new A.ApiError(response.status, 'storage_refused', `storage answered ${response.status}`);
        }
        const reader = response.body.getReader();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          received += value.length;
          onBytes(received);
          for (const plaintext of await decryptor.feed(value)) onPlaintext(plaintext);
        }
        for (const plaintext of await decryptor.finish()) onPlaintext(plaintext);
        return;
      } catch (error) {
        const network = error instanceof TypeError; // fetch and body reads fail with TypeError
        if (!network || attempt >= A.ATTEMPTS) throw network ? new A.ApiError(0, 'network', error.message) : error;
        await A.backoff(attempt); // then ask for the bytes from `received` on; the decryptor keeps its partial record
      }
    }
  }

  async function download() {
    phase = 'downloading';
    stopEvents();
    $('download').disabled = true;
    $('progress').hidden = false;
    $('progress').value = 0;
    setState('Downloading and decrypting…', 'downloading');
    const answer = await A.json('GET', `/transfers/${view.id}/download-url`, { token: parsed.token });
    const decryptor = new F.Decryptor(parsed.secret);
    const blobs = [];
    let pending = [];
    let pendingBytes = 0;
    let written = 0;
    const total = answer.size || view.size;
    await fetchCiphertext(
      answer.url,
      decryptor,
      (plaintext) => {
        pending.push(plaintext);
        pendingBytes += plaintext.length;
        written += plaintext.length;
        if (pendingBytes >= BLOB_EVERY_BYTES) {
          blobs.push(new Blob(pending));
          pending = [];
          pendingBytes = 0;
        }
      },
      (received) => {
        $('progress').value = total ? received / total : 0;
        setState(`Downloading and decrypting: ${human(received)} of ${human(total)}`, 'downloading');
      },
    );
    if (written !== metadata.size) throw new F.FormatError(`decrypted ${written} bytes, expected ${metadata.size}`);
    blobs.push(new Blob(pending));
    const file = new Blob(blobs, { type: metadata.type });
    const link = document.createElement('a');
    link.href = URL.createObjectURL(file);
    link.download = metadata.name;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 60000);
    phase = 'saved';
    $('progress').value = 1;
    setState(`Downloaded and verified: ${metadata.name} (${human(metadata.size)}).`, 'saved');
  }

  let parsed;
  try {
    parsed = F.parseLocation(window.location);
  } catch (error) {
    fail('This link is incomplete or damaged. Ask the sender for the whole link, including the part after #.');
    return;
  }

  (async () => {
    try {
      view = await A.json('GET', `/transfers/${parsed.id}`, { token: parsed.token });
    } catch (error) {
      fail(describe(error));
      return;
    }
    try {
      metadata = await F.openMetadata(parsed.secret, view.metadata);
    } catch (error) {
      fail("This link's key does not open this file: the link is wrong or damaged.");
      return;
    }
    $('file-name').textContent = metadata.name;
    $('file-meta').textContent = `${human(metadata.size)} · ${metadata.type}`;
    $('file-card').hidden = false;
    render();
    if (phase !== 'failed') {
      stopEvents = A.followEvents(`/transfers/${parsed.id}/events`, parsed.token, onEvent, (error) => {
        if (phase !== 'downloading' && phase !== 'saved') fail(describe(error));
      });
    }
  })();

  $('download').addEventListener('click', () => {
    download().catch((error) => fail(describe(error)));
  });
})();
