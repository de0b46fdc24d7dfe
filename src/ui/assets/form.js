// The console's forms: the data-source form (compose configUri from the fields, fill the fields
// from a pasted URI, warn before a save drops a stored secret, Test, save, delete) and the
// access page (roles, grants, revocations). Everything goes to the API's own handlers under
// /ui with the session's CSRF token; the server has the last word on what a URI means.
'use strict';

(() => {
  const { csrf, failure } = window.jackalPage;
  const $ = (id) => document.getElementById(id);

  // A request as the signed-in key: JSON in, JSON out.
  const send = (method, url, body) => fetch(url, {
    method,
    credentials: 'same-origin',
    headers: {
      'X-CSRF-Token': csrf,
      Accept: 'application/json',
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

  // ---- configUri, both ways ----

  const DEFAULT_PORTS = { postgresql: '5432', mysql: '3306' };
  const SCHEMES = { postgresql: 'postgresql', postgres: 'postgresql', mysql: 'mysql', mariadb: 'mysql', sqlite: 'sqlite' };
  // Options that set TLS their own way (libpq's and MySQL's spellings): with one of them in
  // "other options", the form leaves ssl and validateSsl to the server's reading of it.
  const TLS_SPELLINGS = ['sslmode', 'ssl-mode', 'sslMode'];
  // The fields the form reads and writes, by the id of their input.
  const FIELDS = {
    type: 'f-type', host: 'f-host', port: 'f-port', database: 'f-database', path: 'f-path',
    user: 'f-user', password: 'f-password', rootPath: 'f-root-path', timeout: 'f-timeout',
    options: 'f-options', sshHost: 'f-ssh-host', sshPort: 'f-ssh-port', sshUser: 'f-ssh-user',
    sshHostKey: 'f-ssh-host-key', sshJump: 'f-ssh-jump',
  };
  // The secret arguments, as the API names them, by the id of their input.
  const SECRETS = {
    sshPrivateKey: 'f-ssh-key', sshKeyPassphrase: 'f-ssh-passphrase', sshPassword: 'f-ssh-password',
    sslCert: 'f-ssl-cert', sslKey: 'f-ssl-key', sslKeyPassword: 'f-ssl-key-password', sslRootCert: 'f-ssl-root',
  };
  const TLS_SECRETS = ['sslCert', 'sslKey', 'sslKeyPassword', 'sslRootCert'];
  const SSH_SECRETS = ['sshPrivateKey', 'sshKeyPassphrase', 'sshPassword'];

  // Percent-encodes all but RFC 3986's unreserved characters, as the server renders them.
  const enc = (text) => encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const encPath = (text) => enc(text).replace(/%2F/g, '/');
  const dec = (text) => {
    try {
      return decodeURIComponent(text);
    } catch (_) {
      throw new Error(`“${text.slice(0, 40)}” holds a % that starts no escape: write a literal % as %25`);
    }
  };
  const truthy = (value) => ['true', '1', 'yes', 'on'].includes(value.toLowerCase());
  const blank = () => ({
    type: 'postgresql', host: '', port: '', database: '', path: '', user: '', password: '',
    ssl: true, validateSsl: false, rootPath: '', timeout: '', options: '',
    sshHost: '', sshPort: '', sshUser: '', sshHostKey: '', sshJump: '',
  });

  // The fields a URI names. Unknown options are kept as written, for the server to judge.
  const parseUri = (raw) => {
    let text = raw.trim();
    if (/^jdbc:/i.test(text)) text = text.slice(5);
    const match = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^#]*)/.exec(text);
    if (!match) throw new Error('a connection URI starts with postgresql://, mysql://, mariadb://, sqlite:/// or jdbc:');
    const type = SCHEMES[match[1].toLowerCase()];
    if (!type) throw new Error(`“${match[1]}” is not a type Jackal knows: use postgresql, mysql, mariadb or sqlite`);
    const f = blank();
    f.type = type;
    let rest = match[2];
    let query = '';
    const q = rest.indexOf('?');
    if (q >= 0) {
      query = rest.slice(q + 1);
      rest = rest.slice(0, q);
    }
    if (type === 'sqlite') {
      f.path = dec(rest);
      return f;
    }
    const slash = rest.indexOf('/');
    let authority = slash >= 0 ? rest.slice(0, slash) : rest;
    f.database = slash >= 0 ? dec(rest.slice(slash + 1)) : '';
    const at = authority.lastIndexOf('@');
    if (at >= 0) {
      const userinfo = authority.slice(0, at);
      authority = authority.slice(at + 1);
      const colon = userinfo.indexOf(':');
      f.user = dec(colon >= 0 ? userinfo.slice(0, colon) : userinfo);
      f.password = colon >= 0 ? dec(userinfo.slice(colon + 1)) : '';
    }
    if (authority.startsWith('[')) {
      const close = authority.indexOf(']');
      f.host = authority.slice(1, close < 0 ? undefined : close);
      const after = close < 0 ? '' : authority.slice(close + 1);
      if (after.startsWith(':')) f.port = after.slice(1);
    } else {
      const colon = authority.lastIndexOf(':');
      f.host = dec(colon >= 0 ? authority.slice(0, colon) : authority);
      if (colon >= 0) f.port = authority.slice(colon + 1);
    }
    const other = [];
    for (const segment of query.split('&')) {
      if (!segment) continue;
      const eq = segment.indexOf('=');
      const name = eq >= 0 ? segment.slice(0, eq) : segment;
      // Not form decoding: a + in a value is a +, as the server reads it.
      const value = eq >= 0 ? dec(segment.slice(eq + 1)) : '';
      switch (name) {
        case 'ssl': f.ssl = truthy(value); break;
        case 'validateSsl': f.validateSsl = truthy(value); break;
        case 'sslRootCert': f.rootPath = value; break;
        case 'connectTimeout': f.timeout = value; break;
        case 'sshHost': f.sshHost = value; break;
        case 'sshPort': f.sshPort = value; break;
        case 'sshUser': f.sshUser = value; break;
        case 'sshHostKey': f.sshHostKey = value; break;
        case 'sshJump': f.sshJump = value.split(',').map((hop) => hop.trim()).join('\n'); break;
        default: other.push(segment);
      }
    }
    f.options = other.join('&');
    return f;
  };

  const tlsSpelledOtherwise = (f) => f.options.split('&').some((o) => TLS_SPELLINGS.includes(o.split('=')[0]));

  // The configUri of the fields; `mask` shows the password as dots (the preview).
  const compose = (f, mask) => {
    if (f.type === 'sqlite') return `sqlite://${encPath(f.path.trim())}`;
    let uri = `${f.type}://`;
    if (f.user || f.password) {
      uri += enc(f.user);
      if (f.password) uri += `:${mask ? '••••••' : enc(f.password)}`;
      uri += '@';
    }
    const host = f.host.trim();
    uri += host.includes(':') ? `[${host}]` : host;
    if (f.port.trim()) uri += `:${f.port.trim()}`;
    if (f.database) uri += `/${enc(f.database)}`;
    const options = [];
    if (!tlsSpelledOtherwise(f)) options.push(`ssl=${f.ssl}`, `validateSsl=${f.validateSsl}`);
    const add = (name, value) => { if (value.trim()) options.push(`${name}=${enc(value.trim())}`); };
    add('sslRootCert', f.rootPath);
    add('connectTimeout', f.timeout);
    add('sshHost', f.sshHost);
    add('sshPort', f.sshPort);
    add('sshUser', f.sshUser);
    add('sshHostKey', f.sshHostKey);
    add('sshJump', f.sshJump.split('\n').map((hop) => hop.trim()).filter(Boolean).join(','));
    if (f.options.trim()) options.push(f.options.trim().replace(/^[?&]+/, ''));
    return options.length ? `${uri}?${options.join('&')}` : uri;
  };

  // Where the database is, and the route to it: what the API's retention rules compare.
  const destination = (f) => [f.type, f.host.trim().toLowerCase(), f.port.trim() || DEFAULT_PORTS[f.type] || '', f.user].join('\n');
  const route = (f) => (f.sshHost.trim()
    ? [f.sshHost.trim().toLowerCase(), f.sshPort.trim() || '22', f.sshUser, f.sshHostKey.trim(),
      f.sshJump.split('\n').map((hop) => hop.trim()).filter(Boolean).join(',')].join('\n')
    : '');

  // ---- the data-source form ----

  const form = $('ds-form');
  if (form) {
    const read = () => {
      const f = blank();
      for (const [name, id] of Object.entries(FIELDS)) f[name] = $(id).value;
      f.ssl = $('f-ssl').checked;
      f.validateSsl = $('f-validate').checked;
      return f;
    };
    const write = (f) => {
      for (const [name, id] of Object.entries(FIELDS)) $(id).value = f[name];
      $('f-ssl').checked = f.ssl;
      $('f-validate').checked = f.validateSsl;
    };
    const secrets = () => {
      const sent = {};
      for (const [name, id] of Object.entries(SECRETS)) {
        if ($(id).value) sent[name] = $(id).value;
      }
      return sent;
    };

    const id = form.dataset.id;
    const stored = {
      password: form.hasAttribute('data-stored-password'),
      ssh: form.hasAttribute('data-stored-ssh'),
      tls: form.hasAttribute('data-stored-tls'),
    };
    let loaded = null;
    const original = { name: $('f-name').value, alias: $('f-alias').value, description: $('f-description').value };
    if (form.dataset.configUri) {
      loaded = parseUri(form.dataset.configUri);
      write(loaded);
    }

    // What a save of the form as it is would drop: the API's retention rules, told before.
    const dropped = (f) => {
      if (!loaded) return [];
      const sent = secrets();
      const sameRoute = route(f) === route(loaded);
      const sameDestination = destination(f) === destination(loaded) && sameRoute;
      const lost = [];
      if (stored.password && !f.password && !sameDestination) lost.push('the stored password');
      if (stored.ssh && !SSH_SECRETS.some((n) => sent[n]) && !sameRoute) lost.push('the stored SSH key or password');
      if (stored.tls && !TLS_SECRETS.some((n) => sent[n]) && !(sameDestination && f.ssl)) lost.push('the stored client certificate and CA certificates');
      return lost;
    };

    const refresh = () => {
      const f = read();
      const sqlite = f.type === 'sqlite';
      for (const element of form.querySelectorAll('[data-net]')) element.hidden = sqlite;
      for (const element of form.querySelectorAll('[data-file]')) element.hidden = !sqlite;
      const tlsElsewhere = tlsSpelledOtherwise(f);
      $('f-ssl').disabled = tlsElsewhere;
      $('f-validate').disabled = tlsElsewhere;
      $('f-port').placeholder = DEFAULT_PORTS[f.type] || '';
      $('uri-preview').textContent = compose(f, true);
      const warning = $('retention-warning');
      const lost = dropped(f);
      warning.hidden = lost.length === 0;
      warning.textContent = lost.length
        ? `The destination changed: saving drops ${lost.join(', ')}, so that a secret never follows a data source to a place it was not entered for. Type them again to keep them.`
        : '';
    };

    const fill = () => {
      const status = $('paste-status');
      const text = $('f-paste').value;
      if (!text.trim()) {
        status.textContent = 'Paste a URI first.';
        return;
      }
      try {
        write(parseUri(text));
        $('f-paste').value = '';
        status.textContent = 'The fields are filled from the URI: check them, then Test or save.';
      } catch (error) {
        status.textContent = `Not filled: ${error.message}`;
      }
      refresh();
    };
    $('fill').addEventListener('click', fill);
    $('f-paste').addEventListener('keydown', (event) => {
      if (event.key === 'Enter') {
        event.preventDefault();
        fill();
      }
    });

    for (const input of form.querySelectorAll('input[type=file][data-into]')) {
      input.addEventListener('change', async () => {
        const file = input.files[0];
        if (!file) return;
        $(input.dataset.into).value = await file.text();
        refresh();
      });
    }
    form.addEventListener('input', () => {
      // The message was about the last attempt; the form is now another one.
      $('form-error').hidden = true;
      refresh();
    });
    form.addEventListener('change', refresh);
    refresh();

    const showError = (message) => {
      const error = $('form-error');
      error.textContent = message;
      error.hidden = false;
      error.scrollIntoView({ block: 'center' });
    };

    // The API's arguments for a create, or the changed ones for an update.
    const body = () => {
      const f = read();
      const args = {};
      const name = $('f-name').value;
      const alias = $('f-alias').value;
      const description = $('f-description').value;
      if (!loaded) {
        if (name) args.name = name;
        if (alias) args.alias = alias;
        if (description) args.description = description;
        args.configUri = compose(f, false);
      } else {
        if (name !== original.name) args.name = name;
        if (alias !== original.alias) args.alias = alias;
        if (description !== original.description) args.description = description;
        if (f.password || compose(f, false) !== compose(loaded, false)) args.configUri = compose(f, false);
      }
      return { ...args, ...secrets() };
    };

    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const args = body();
      const status = $('save-status');
      $('form-error').hidden = true;
      if (loaded && Object.keys(args).length === 0) {
        status.textContent = 'Nothing changed.';
        return;
      }
      const save = $('save');
      save.disabled = true;
      status.textContent = 'Saving…';
      try {
        const response = await send('POST', loaded ? `/ui/data-source/${encodeURIComponent(id)}` : '/ui/data-source', args);
        if (!response.ok) {
          status.textContent = '';
          showError(await failure(response));
          return;
        }
        const saved = await response.json();
        status.textContent = 'Saved.';
        window.location.assign(`/ui/data-source/${encodeURIComponent(saved.id)}`);
      } catch (error) {
        status.textContent = '';
        showError(`Not saved: ${error.message}`);
      } finally {
        save.disabled = false;
      }
    });

    const showResult = (result) => {
      const box = $('test-result');
      box.textContent = '';
      const line = document.createElement('p');
      const verdict = document.createElement('span');
      verdict.className = result.success ? 'test-ok' : 'test-bad';
      verdict.textContent = result.success ? 'Connected' : 'Failed';
      line.append(verdict);
      if (result.success && result.version) {
        line.append(`: ${result.version.productName} ${result.version.productVersion}`);
      }
      line.append(` in ${result.durationMs.toFixed(1)} ms${result.address ? ` (${result.address})` : ''}.`);
      box.append(line);
      if (!result.success) {
        const why = document.createElement('p');
        const code = document.createElement('code');
        code.className = 'test-code';
        code.textContent = result.errorCode || '';
        why.append(code, ` ${result.message || ''}`);
        box.append(why);
      }
      if (result.phases && result.phases.length) {
        const list = document.createElement('ul');
        for (const phase of result.phases) {
          const item = document.createElement('li');
          item.textContent = `${phase.name}${phase.hop ? ` (${phase.hop})` : ''}: ${phase.ok ? 'ok' : 'failed'}, ${phase.ms.toFixed(1)} ms`;
          list.append(item);
        }
        box.append(list);
      }
    };

    $('test-form').addEventListener('click', async (event) => {
      const button = event.currentTarget;
      const section = $('test-section');
      $('form-error').hidden = true;
      button.disabled = true;
      section.hidden = false;
      $('test-result').textContent = 'Testing…';
      try {
        const response = await send('POST', '/ui/connection-test', { configUri: compose(read(), false), ...secrets() });
        if (!response.ok) {
          $('test-result').textContent = '';
          showError(`Not tested: ${await failure(response)}`);
          return;
        }
        showResult(await response.json());
      } catch (error) {
        $('test-result').textContent = `Not tested: ${error.message}`;
      } finally {
        button.disabled = false;
      }
    });

    if ($('delete')) {
      $('delete').addEventListener('click', () => {
        $('delete-confirm').hidden = false;
        $('delete-confirm').focus();
      });
      $('delete-confirm').addEventListener('click', async (event) => {
        const button = event.currentTarget;
        button.disabled = true;
        try {
          const response = await send('POST', `/ui/data-source/${encodeURIComponent(id)}/delete`);
          if (response.ok) window.location.assign('/ui/');
          else showError(await failure(response));
        } finally {
          button.disabled = false;
        }
      });
    }
  }

  // ---- the access page and the permissions list ----

  const status = $('action-status');
  const act = async (method, url, body) => {
    status.textContent = 'Saving…';
    try {
      const response = await send(method, url, body);
      if (response.ok) window.location.reload();
      else status.textContent = await failure(response);
    } catch (error) {
      status.textContent = `Not saved: ${error.message}`;
    }
  };

  document.addEventListener('click', (event) => {
    const button = event.target.closest('button[data-method]');
    if (button) act(button.dataset.method, button.dataset.url);
  });

  const addRole = $('add-role');
  if (addRole) {
    addRole.addEventListener('submit', (event) => {
      event.preventDefault();
      const role = encodeURIComponent($('role').value);
      act('PUT', `/ui/role/${role}/data-source/${encodeURIComponent(addRole.dataset.dataSource)}`);
    });
  }

  const grant = $('grant');
  if (grant) {
    grant.addEventListener('submit', (event) => {
      event.preventDefault();
      const args = { duration: String(Number($('grant-amount').value) * Number($('grant-unit').value)) };
      // The field is local time by its type; the page says UTC, so it is sent as UTC.
      const start = $('grant-start').value;
      if (start) args.startsAt = `${start.length === 16 ? `${start}:00` : start}Z`;
      const person = encodeURIComponent($('grant-person').value);
      act('POST', `/ui/data-source/${encodeURIComponent(grant.dataset.dataSource)}/permission/person/${person}`, args);
    });
  }
})();
