// The status page's buttons: Test now, Test all (results as they arrive), Refresh schema,
// Sign out, the fleet's filter and its refresh (every 30 s while the tab is shown), and the
// audit trail's scrolling. Every POST carries the session's CSRF token; the server refuses one
// without it.
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
  const STATUSES = ['up', 'down', 'never'];
  const statusOf = (row) => STATUSES.find((status) => row.classList.contains(status));

  // The counts cover the whole fleet, also when the table shows only one error code: a row
  // that changes status moves one from its old count to its new one.
  const recount = (from, to) => {
    for (const [status, delta] of [[from, -1], [to, 1]]) {
      const counter = status && document.getElementById(`n-${status}`);
      if (counter) counter.textContent = Number(counter.textContent) + delta;
    }
  };

  // A fleet row's cells by position (fleet.html keeps its rows small: no classes on cells).
  const COLUMNS = { st: 2, since: 3, at: 4, err: 5, ms: 6 };
  const cellOf = (row, name) => (row.cells ? row.cells[COLUMNS[name]] : row.querySelector(`.${name}`));

  // Shows a result (`/test`'s shape) in the row of its data source.
  const show = (row, result, skipped) => {
    if (!row) return;
    const cell = (name) => cellOf(row, name);
    const was = statusOf(row);
    row.classList.remove('up', 'down', 'never', 'busy');
    if (skipped) {
      row.classList.add('never');
      recount(was, 'never');
      cell('st').textContent = 'Skipped';
      cell('err').textContent = skipped;
      return;
    }
    const status = result.success ? 'up' : 'down';
    row.classList.add(status);
    recount(was, status);
    cell('st').textContent = result.success ? 'Up' : 'Down';
    const tested = now();
    cell('at').textContent = tested;
    // A success ends a run of failures; a first failure begins one.
    const since = cell('since');
    if (since && (result.success || was !== 'down')) since.textContent = result.success ? '' : tested;
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
  const applyFilter = () => {
    const words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
    for (const row of fleet.tBodies[0].rows) {
      const text = row.textContent.toLowerCase();
      row.hidden = !words.every((word) => text.includes(word));
    }
  };
  if (filter && fleet) filter.addEventListener('input', applyFilter);

  // ---- the fleet's refresh: its rows and counts fetched again, the table replaced in place ----

  const refreshed = document.getElementById('refreshed');
  if (fleet && refreshed) {
    const every = Math.max(1, Number(refreshed.dataset.every) || 30) * 1000;
    let timer = null;
    let last = Date.now();
    let ended = false;
    // Not while results are arriving: they are written into the rows as they come.
    const busy = () => document.getElementById('test-all').disabled || fleet.querySelector('tr.busy');

    // The fetched rows in place of the shown ones; focus and the filter box's effect kept.
    const replace = (fresh) => {
      const focused = document.activeElement;
      const focusedRow = focused && fleet.contains(focused) ? focused.closest('tr') : null;
      const focusedTag = focused ? focused.tagName : '';
      fleet.tBodies[0].replaceWith(fresh.querySelector('#fleet tbody'));
      document.getElementById('counts').replaceWith(fresh.getElementById('counts'));
      const codes = document.getElementById('code');
      if (codes && document.activeElement !== codes) codes.replaceChildren(...fresh.getElementById('code').children);
      document.getElementById('run-progress').max = Number(document.getElementById('n-total').textContent);
      if (filter) applyFilter();
      const row = focusedRow && document.getElementById(focusedRow.id);
      const again = row && row.querySelector(focusedTag === 'A' ? 'a' : 'button');
      if (again) again.focus();
    };

    const schedule = () => {
      if (timer || ended || document.hidden) return;
      timer = setTimeout(refresh, Math.max(0, every - (Date.now() - last)));
    };
    const refresh = async () => {
      timer = null;
      if (document.hidden || ended) return;
      if (!busy()) {
        try {
          const response = await fetch(refreshed.dataset.from, { credentials: 'same-origin' });
          if (response.status === 401) {
            ended = true;
            refreshed.textContent = 'The session ended: sign in again to see the fleet as it is now.';
          } else if (!response.ok || response.redirected) {
            refreshed.textContent = `Not refreshed: ${await failure(response)}`;
          } else {
            const fresh = new DOMParser().parseFromString(await response.text(), 'text/html');
            if (!busy()) {
              replace(fresh);
              refreshed.textContent = `Refreshed at ${now()} UTC, every ${every / 1000} s while this tab is shown.`;
            }
          }
        } catch (error) {
          refreshed.textContent = `Not refreshed (${error.message}): trying again in ${every / 1000} s.`;
        }
      }
      last = Date.now();
      schedule();
    };
    // Paused while the tab is hidden; once shown again, refreshed at once if it is due.
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden) {
        schedule();
        return;
      }
      clearTimeout(timer);
      timer = null;
    });
    schedule();
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
