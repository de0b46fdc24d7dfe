// The status page's buttons: Test now, Test all (results as they arrive), Refresh schema,
// Sign out, the fleet's filter and the audit trail's scrolling. Every POST carries the
// session's CSRF token; the server refuses one without it.
'use strict';

(() => {
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  const csrf = csrfMeta ? csrfMeta.content : '';

  const post = (url, accept) => fetch(url, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'X-CSRF-Token': csrf, Accept: accept || 'application/json' },
  });

  // The message of the API's error body, or the status.
  const failure = async (response) => {
    try {
      const body = await response.json();
      return (body.error && body.error.message) || response.statusText;
    } catch (_) {
      return `${response.status} ${response.statusText}`;
    }
  };

  // For the console's forms (form.js, loaded after this script): the same token and messages.
  window.jackalPage = Object.freeze({ csrf, failure });

  const now = () => new Date().toISOString().slice(0, 19).replace('T', ' ');
  const ms = (value) => (value >= 100 ? `${value.toFixed(0)} ms` : `${value.toFixed(1)} ms`);

  // ---- the fleet ----

  const fleet = document.getElementById('fleet');
  const counts = () => {
    if (!fleet) return;
    const rows = [...fleet.tBodies[0].rows];
    const count = (status) => rows.filter((row) => row.classList.contains(status)).length;
    for (const status of ['up', 'down', 'never']) {
      document.getElementById(`n-${status}`).textContent = count(status);
    }
  };

  // A fleet row's cells by position (fleet.html keeps its rows small: no classes on cells).
  const COLUMNS = { st: 1, at: 2, err: 3, ms: 4 };
  const cellOf = (row, name) => (row.cells ? row.cells[COLUMNS[name]] : row.querySelector(`.${name}`));

  // Shows a result (`/test`'s shape) in the row of its data source.
  const show = (row, result, skipped) => {
    if (!row) return;
    const cell = (name) => cellOf(row, name);
    row.classList.remove('up', 'down', 'never', 'busy');
    if (skipped) {
      row.classList.add('never');
      cell('st').textContent = 'Skipped';
      cell('err').textContent = skipped;
      return;
    }
    const status = result.success ? 'up' : 'down';
    row.classList.add(status);
    cell('st').textContent = result.success ? 'Up' : 'Down';
    cell('at').textContent = now();
    const err = cell('err');
    err.textContent = '';
    if (!result.success) {
      const code = document.createElement('code');
      code.textContent = result.errorCode || '';
      err.append(code, ` ${result.message || ''}`);
    }
    cell('ms').textContent = ms(result.durationMs);
  };

  const testOne = async (button) => {
    const row = button.closest('[id]');
    const reload = button.hasAttribute('data-reload');
    button.disabled = true;
    row.classList.add('busy');
    try {
      const response = await post(`/ui/data-source/${encodeURIComponent(row.id)}/test`);
      if (!response.ok) {
        row.classList.remove('busy');
        const status = cellOf(row, 'st');
        if (status) status.textContent = await failure(response);
        return;
      }
      const result = await response.json();
      if (reload) {
        window.location.reload();
        return;
      }
      show(row, result);
      counts();
    } finally {
      button.disabled = false;
    }
  };

  const testAll = async (button) => {
    const progress = document.getElementById('run-progress');
    const status = document.getElementById('run-status');
    button.disabled = true;
    progress.hidden = false;
    progress.value = 0;
    status.textContent = 'Testing every data source…';
    let done = 0;
    let summarized = false;
    const line = (text) => {
      if (!text.trim()) return;
      let item;
      try {
        item = JSON.parse(text);
      } catch (_) {
        return; // not a line of the run's; the summary, or its absence, tells the end
      }
      if (item.summary) {
        summarized = true;
        const s = item.summary;
        status.textContent = `Done in ${(s.durationMs / 1000).toFixed(1)} s: ${s.succeeded} up, ${s.failed} down, ${s.skipped} skipped.`;
        return;
      }
      if (!item.dataSource) return;
      done += 1;
      progress.value = done;
      status.textContent = `${done} of ${progress.max} tested…`;
      show(document.getElementById(item.dataSource.id), item.result, item.skipped);
      counts();
    };
    try {
      const response = await post('/ui/test-run', 'application/x-ndjson');
      if (!response.ok) {
        status.textContent = await failure(response);
        return;
      }
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let pending = '';
      for (;;) {
        const { value, done: end } = await reader.read();
        if (end) break;
        pending += decoder.decode(value, { stream: true });
        const lines = pending.split('\n');
        pending = lines.pop();
        lines.forEach(line);
      }
      line(pending + decoder.decode());
      if (!summarized) status.textContent = `The run ended early, after ${done} results: reload the page to see where it stands.`;
    } catch (error) {
      status.textContent = `The run was interrupted (${error.message}): reload the page to see where it stands.`;
    } finally {
      button.disabled = false;
    }
  };

  const filter = document.getElementById('filter');
  if (filter && fleet) {
    filter.addEventListener('input', () => {
      const words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
      for (const row of fleet.tBodies[0].rows) {
        const text = row.textContent.toLowerCase();
        row.hidden = !words.every((word) => text.includes(word));
      }
    });
  }

  // ---- buttons and forms that post ----

  document.addEventListener('click', (event) => {
    const button = event.target.closest('button');
    if (!button) return;
    if (button.classList.contains('test')) testOne(button);
    else if (button.id === 'test-all') testAll(button);
    else if (button.classList.contains('refresh')) {
      const status = button.parentElement.querySelector('.refresh-status');
      button.disabled = true;
      status.textContent = 'Reading the schema…';
      post(button.dataset.post).then(async (response) => {
        if (response.ok) window.location.reload();
        else status.textContent = await failure(response);
      }).finally(() => { button.disabled = false; });
    }
  });

  document.addEventListener('submit', (event) => {
    const form = event.target;
    if (!form.hasAttribute('data-post')) return;
    event.preventDefault();
    post(form.dataset.post).then(async (response) => {
      // Signed out: the answer went (303) to the form.
      if (response.ok && response.redirected) window.location.assign('/ui/sign-in');
      else window.alert(`Not signed out: ${await failure(response)}`);
    });
  });

  // ---- the audit trail: older events as the end comes into view ----

  const more = document.getElementById('more');
  const audit = document.getElementById('audit');
  if (more && audit && more.dataset.next) {
    let loading = false;
    const visible = () => more.getBoundingClientRect().top < window.innerHeight;
    const load = async () => {
      if (loading || !more.dataset.next) return;
      loading = true;
      try {
        const response = await fetch(more.dataset.next, { credentials: 'same-origin' });
        if (!response.ok || response.redirected) {
          more.textContent = response.status === 401
            ? 'The session ended: sign in again to see older events.'
            : await failure(response);
          delete more.dataset.next;
          return;
        }
        audit.tBodies[0].insertAdjacentHTML('beforeend', await response.text());
        const next = response.headers.get('x-next-page');
        if (next) {
          more.dataset.next = next;
        } else {
          delete more.dataset.next;
          more.textContent = 'The beginning of the trail.';
        }
      } finally {
        loading = false;
      }
      // Still in view after these rows (a tall screen): the observer will not fire again.
      if (more.dataset.next && visible()) load();
    };
    new IntersectionObserver((entries) => {
      if (entries.some((entry) => entry.isIntersecting)) load();
    }).observe(more);
  }
})();
