// Parley's web client. Hand-written, no build step, no third-party code.
//
// It speaks the chat protocol of shared/PROTOCOL.md over the chat
// server's WebSocket (/ws) and the file server's HTTP API
// (fileserver/README.md), as the terminal client does: resume with the
// token and since, an outbox of sends with idempotency keys paced to the
// server's rate limit, re-sends of rate_limited after retry_ms, each
// message shown once, and no reconnect after a takeover. When the chat
// server is a node of a cluster, whose welcome lists the nodes, a closed
// connection or an unavailable node sends it to the next node's /ws,
// where it resumes the same way.
//
// Safety: every string from a server is put in the page as text
// (textContent, text nodes), never as HTML; links are made only for
// http: and https: URLs. The resume token lives in sessionStorage (this
// tab only); the file token in memory, and in a download's URL as
// access_token only (it lives 15 minutes by default).

import { SSEDecoder } from './sse.js';
import { expand } from './emoji.js';

// ---------------------------------------------------------------------
// Small helpers

const $ = (id) => document.getElementById(id);

// el builds an element. Children that are strings become text nodes, so
// nothing passed here is ever parsed as HTML.
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function humanSize(n) {
  if (n < 1024) return n + ' B';
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let u = -1;
  do { n /= 1024; u++; } while (n >= 1024 && u < units.length - 1);
  return n.toFixed(n < 10 ? 1 : 0) + ' ' + units[u];
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' });
const dayKey = (ms) => { const d = new Date(ms); return d.getFullYear() + '-' + d.getMonth() + '-' + d.getDate(); };

// Names are compared without case, as the server does (PRECIS
// case mapping is close enough to toLowerCase for the client's own
// bookkeeping; the server decides what is the same name).
const fold = (s) => (s || '').normalize('NFKC').toLowerCase();

function newKey() {
  const b = new Uint8Array(12);
  crypto.getRandomValues(b);
  return 'w-' + Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// hooks lets features.js (edits, replies, reactions, read positions,
// search, nicks, actions, topics) join in where app.js builds a
// message, runs a command, handles a login reply, shows a conversation
// or its header, and reads a member list. Each hook is optional.
export const hooks = {};
const shown = (name) => (hooks.name ? hooks.name(name) : name);

// ---------------------------------------------------------------------
// State

const store = window.sessionStorage;

const S = {
  me: store.getItem('parley.name') || '',
  token: store.getItem('parley.token') || '',
  password: '',
  ws: null,
  connState: 'offline', // offline, connecting, online, waiting, replaced, stopped
  loggedIn: false,
  limits: { rate: 20, burst: 50, text: 4000, recall_secs: 120, history: 200 },
  filesURL: '',
  filesToken: '',
  filesExpires: 0,
  nextId: 1,
  pending: new Map(), // request id -> job
  queue: [], // jobs not yet written
  bucket: { tokens: 50, at: 0 },
  pumpTimer: 0,
  lastSeen: 0, // highest id of a live message or recall event
  resumed: false, // whether the next login continues this page's session
  wsList: [], // the /ws URLs to try: this page's server, then the cluster's other nodes
  wsAt: 0, // index in wsList of the node used last
  wsOn: '', // the /ws URL of the last connection that logged in
  tried: 0, // reconnect attempts since the connection dropped
  attempt: 0,
  retryAt: 0,
  retryTimer: 0,
  countdownTimer: 0,
  convs: new Map(), // key -> conv
  current: 'lobby',
  presence: new Map(), // folded name -> online
  names: new Map(), // folded name -> name as registered
  emoji: null,
  emojiCodes: [],
  stickers: [],
  notify: false,
  panel: '', // 'members', 'files' or ''
  outbox: [], // messages not yet stored, shown under the conversation
};

// A conversation: a room ("#name" key, the lobby as "lobby") or a
// private conversation ("@name").
function convKey(kind, name) {
  if (kind === 'room') return fold(name) === 'lobby' ? 'lobby' : '#' + fold(name);
  return '@' + fold(name);
}

function getConv(kind, name, create = true) {
  const key = convKey(kind, name);
  let c = S.convs.get(key);
  if (!c && create) {
    c = {
      key, kind, name: kind === 'room' && key === 'lobby' ? 'lobby' : name,
      msgs: [], byId: new Map(), unread: 0, mentions: 0,
      owner: '', members: new Map(), banned: [], oldest: 0, atStart: false,
      loadingHistory: false, joined: true, notices: [],
    };
    S.convs.set(key, c);
  }
  return c;
}

function convOfMessage(f) {
  if (f.to) {
    const other = fold(f.from) === fold(S.me) ? f.to : f.from;
    return getConv('dm', other);
  }
  return getConv('room', f.room || 'lobby');
}

function convTarget(c) {
  return c.kind === 'room' ? { room: c.name } : { to: c.name };
}

// ---------------------------------------------------------------------
// Connection: handshake, login, requests, pacing and reconnects

function wsURL() {
  if (!S.wsList.length) {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    S.wsList.push(proto + '//' + location.host + '/ws');
  }
  return S.wsList[S.wsAt];
}

// learnNodes adds the /ws of each node a welcome lists (by the URL of its
// HTTP door) to the URLs to try, after those known already, up to 64.
function learnNodes(nodes) {
  wsURL();
  for (const n of nodes || []) {
    let u;
    try { u = new URL(n.http || ''); } catch (e) { continue; }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') continue;
    const ws = (u.protocol === 'https:' ? 'wss:' : 'ws:') + '//' + u.host + '/ws';
    if (!S.wsList.includes(ws) && S.wsList.length < 64) S.wsList.push(ws);
  }
}

// nextNode moves on to the node after the one used last; with one node,
// that is the same one.
function nextNode() {
  wsURL();
  S.wsAt = (S.wsAt + 1) % S.wsList.length;
}

// nodeName is the host and port of a /ws URL, as shown to people.
function nodeName(ws) {
  try { return new URL(ws).host; } catch (e) { return ws; }
}

function connect() {
  clearTimeout(S.retryTimer);
  clearInterval(S.countdownTimer);
  if (S.ws) {
    // A reconnect now (/refresh): what the old connection had not had
    // answered goes again on the new one.
    const old = S.ws;
    S.ws = null;
    old.onclose = null;
    try { old.close(); } catch (e) { /* already closed */ }
    S.loggedIn = false;
    requeuePending();
  }
  setConn('connecting');
  const ws = new WebSocket(wsURL());
  S.ws = ws;
  let byeCode = '';
  let byeMessage = '';
  ws.onopen = () => {
    // A new connection has a full bucket at the server.
    S.bucket = { tokens: S.limits.burst || 50, at: performance.now() };
    S.sentOnConn = 0;
    S.holdUntil = 0;
    writeNow({ type: 'hello', version: 1, client: 'parley-web/1' });
  };
  ws.onmessage = (ev) => {
    for (const line of String(ev.data).split('\n')) {
      if (!line.trim()) continue;
      let f;
      try { f = JSON.parse(line); } catch (e) { console.warn('bad frame from server', e); continue; }
      if (f.type === 'bye') { byeCode = f.code || ''; byeMessage = f.message || ''; }
      handleFrame(f);
    }
  };
  ws.onclose = () => {
    if (S.ws !== ws) return; // replaced by a newer connection
    S.ws = null;
    lostConnection(byeCode, byeMessage);
  };
}

// writeNow sends a frame at once (the handshake and the login). It still
// takes a token from the bucket, since the server counts every frame.
function writeNow(f) {
  takeToken();
  S.ws.send(JSON.stringify(f));
}

function refill() {
  const now = performance.now();
  const rate = S.limits.rate || 20;
  const burst = S.limits.burst || 50;
  S.bucket.tokens = Math.min(burst, S.bucket.tokens + ((now - S.bucket.at) / 1000) * rate);
  S.bucket.at = now;
}

function takeToken() { refill(); S.bucket.tokens -= 1; S.sentOnConn = (S.sentOnConn || 0) + 1; }

// request queues a frame and resolves with its ok reply, or rejects with
// {code, message} for an error reply. Frames wait in the queue while the
// connection is down; sends carry an idempotency key, so a send that
// may or may not have arrived is sent again safely after a reconnect.
function request(frame) {
  return new Promise((resolve, reject) => {
    const job = { frame, resolve, reject, seq: (S.seq = (S.seq || 0) + 1) };
    S.queue.push(job);
    pump();
  });
}

// notify sends a frame that gets no reply (typing) at once, if the
// connection is up, nothing waits in the queue and the rate allows it.
// Otherwise it is dropped: such a frame is worth nothing late, and never
// takes the place of a request.
function notify(frame) {
  if (!S.loggedIn || !S.ws || S.ws.readyState !== WebSocket.OPEN || S.queue.length) return false;
  if ((S.holdUntil || 0) > performance.now()) return false;
  refill();
  if (S.bucket.tokens < 1) return false;
  takeToken();
  S.ws.send(JSON.stringify(frame));
  return true;
}

function pump() {
  clearTimeout(S.pumpTimer);
  S.pumpTimer = 0;
  while (S.queue.length && S.loggedIn && S.ws && S.ws.readyState === WebSocket.OPEN) {
    const hold = (S.holdUntil || 0) - performance.now();
    if (hold > 0) {
      // The server said to wait: nothing goes out before then, so that
      // what it refused keeps its place.
      S.pumpTimer = setTimeout(pump, Math.ceil(hold));
      break;
    }
    refill();
    if (S.bucket.tokens < 1) {
      // Pace to the server's rate: wait until the bucket holds a token.
      const wait = Math.ceil(((1 - S.bucket.tokens) / (S.limits.rate || 20)) * 1000);
      S.pumpTimer = setTimeout(pump, Math.max(wait, 5));
      break;
    }
    const job = S.queue.shift();
    const id = S.nextId++;
    job.id = id;
    S.pending.set(id, job);
    takeToken();
    S.ws.send(JSON.stringify({ ...job.frame, id }));
  }
  renderOutbox();
}

function lostConnection(code, message) {
  const wasOnline = S.loggedIn;
  S.loggedIn = false;
  requeuePending();
  if (code === 'replaced') {
    setConn('replaced', message || 'You logged in somewhere else, so this tab was disconnected. It will not reconnect by itself.');
    return;
  }
  if (S.connState === 'stopped') return;
  if (!$('login').hidden) {
    // Logging in from the form: say so, and let the person try again.
    S.connState = 'offline';
    S.password = '';
    showLogin(code ? 'The server closed the connection (' + code + (message ? ': ' + message : '') + '). Try again.'
      : 'Could not reach the chat server at ' + location.host + '. Check that it is running, then try again.');
    return;
  }
  if (['flood', 'frame_too_large', 'bad_version'].includes(code)) {
    setConn('waiting', 'The server closed the connection (' + code + ': ' + (message || '') + ').');
    scheduleReconnect(30000);
    return;
  }
  if (!S.me || !(S.token || S.password)) { setConn('offline'); showLogin(''); return; }
  // Each attempt goes to the next node. After a failed one, the next
  // node is tried at once, until every node has failed in a row; then
  // the wait grows as with one server.
  if (wasOnline) { S.attempt = 0; S.tried = 0; } else S.tried++;
  nextNode();
  if (!wasOnline && S.tried % S.wsList.length !== 0) { scheduleReconnect(0, code === 'unavailable' ? 'The server is unavailable.' : ''); return; }
  S.attempt++;
  const base = code === 'server_shutdown' ? 500 : 1000;
  const delay = Math.min(30000, base * 2 ** Math.min(S.attempt - 1, 6));
  scheduleReconnect(delay / 2 + Math.random() * (delay / 2), code === 'server_shutdown' ? 'The server restarted.' : '');
}

function scheduleReconnect(delay, why) {
  S.retryAt = Date.now() + delay;
  S.retryWhy = why || '';
  setConn('waiting');
  clearTimeout(S.retryTimer);
  S.retryTimer = setTimeout(connect, delay);
  clearInterval(S.countdownTimer);
  S.countdownTimer = setInterval(renderConn, 1000);
}

function reconnectNow() {
  // Online, a refresh moves to the next node; while waiting, the next
  // node is already the one to try.
  if (S.loggedIn) nextNode();
  S.attempt = 0;
  if (S.connState === 'replaced') S.connState = 'offline';
  connect();
}

function login() {
  const f = { type: 'login', name: S.me };
  if (S.token) f.token = S.token;
  else f.password = S.password;
  // After a first login in this page, every login continues it, with a
  // password too (after the token expired): the catch-up brings what
  // was missed.
  if (S.resumed) { f.resume = true; f.since = S.lastSeen; }
  const id = S.nextId++;
  const job = {
    login: true, id,
    resolve: loggedIn,
    reject: (e) => {
      if (e.code === 'bad_token') {
        // The token expired or the server forgot it: ask for the
        // password; the queue waits and goes out after the login.
        S.token = ''; store.removeItem('parley.token');
        S.loggedIn = false;
        showLogin('Your session has expired; log in again. Unsent messages are kept.');
        return;
      }
      if (e.code === 'unavailable') {
        // This node cannot serve: the close moves on to the next.
        S.ws && S.ws.close();
        return;
      }
      if (e.code === 'rate_limited' || e.code === 'server_busy') {
        setConn('waiting', e.message);
        scheduleReconnect(Math.max(e.retry_ms || 1000, 500));
        S.ws && S.ws.close();
        return;
      }
      if (e.code === 'not_acknowledged') return;
      S.connState = 'stopped';
      S.ws && S.ws.close();
      showLogin(e.message || e.code);
    },
  };
  S.pending.set(id, job);
  writeNow({ ...f, id });
}

function loggedIn(ok) {
  S.loggedIn = true;
  S.attempt = 0;
  S.password = '';
  S.me = ok.name || S.me;
  if (ok.token) { S.token = ok.token; store.setItem('parley.token', ok.token); }
  store.setItem('parley.name', S.me);
  if (ok.since) S.lastSeen = Math.max(S.lastSeen, ok.since);
  if (ok.files_token) setFilesToken(ok.files_token, ok.expires);
  const wasResumed = S.resumed;
  S.resumed = true;
  const moved = S.wsOn !== '' && S.wsOn !== wsURL();
  S.wsOn = wsURL();
  $('me-name').textContent = S.me;
  // The rooms the user is in: conversations that are gone (left or
  // kicked on another device) are marked, new ones added.
  const rooms = new Set();
  for (const r of ok.rooms || []) {
    if (!r.joined) continue;
    const c = getConv('room', r.name);
    c.name = r.name;
    c.owner = r.owner || '';
    c.count = r.members;
    c.joined = true;
    rooms.add(c.key);
  }
  for (const c of S.convs.values()) if (c.kind === 'room' && !rooms.has(c.key)) c.joined = false;
  if (hooks.login) hooks.login(ok);
  showApp();
  setConn('online', wasResumed ? (moved ? 'Reconnected to ' + nodeName(S.wsOn) + '.' : 'Reconnected.') : '');
  if (ok.more) syncRest();
  refreshMembers();
  pump();
  startFileEvents();
  const c = S.convs.get(S.current);
  if (!c || (c.kind === 'room' && !c.joined)) switchTo('lobby');
  render();
}

async function syncRest() {
  for (;;) {
    const ok = await request({ type: 'sync', since: S.lastSeen });
    if (ok.since) { S.lastSeen = Math.max(S.lastSeen, ok.since); return; }
    if (!ok.more) return;
  }
}

// requeuePending puts what was sent and not answered back in the queue,
// in its order: sends have keys, and the other requests are safe to
// repeat. A login waiting for its answer is dropped: the next connection
// logs in again.
function requeuePending() {
  const unanswered = [...S.pending.values()].filter((j) => !j.login);
  for (const j of S.pending.values()) if (j.login) j.reject({ code: 'not_acknowledged', message: 'the connection closed before the login was answered' });
  S.pending.clear();
  for (const j of unanswered) requeue(j);
}

// requeue puts a job back in the queue in the order it was made.
function requeue(job) {
  let i = 0;
  while (i < S.queue.length && S.queue[i].seq < job.seq) i++;
  S.queue.splice(i, 0, job);
}

function handleReply(f) {
  const job = S.pending.get(f.re);
  if (!job) return;
  S.pending.delete(f.re);
  if (f.type === 'ok') { job.resolve(f); pump(); return; }
  if (f.code === 'unavailable' && !job.login) {
    // Not processed: the node cannot serve. The request goes again,
    // in its place, through the next node.
    requeue(job);
    S.ws && S.ws.close();
    return;
  }
  if (f.code === 'rate_limited' && !job.login) {
    // Not processed: send it again after the wait the server names, in
    // its place among what has not gone out yet.
    S.holdUntil = Math.max(S.holdUntil || 0, performance.now() + Math.max(f.retry_ms || 100, 10));
    requeue(job);
    pump();
    return;
  }
  job.reject({ code: f.code, message: f.message, retry_ms: f.retry_ms });
  pump();
}

// Event handlers by frame type. New event types (edits, reactions, …)
// get an entry here and nothing else needs to change.
const onEvent = {
  welcome(f) {
    Object.assign(S.limits, f.limits || {});
    // The server's bucket is its burst less what this connection sent.
    refill();
    S.bucket.tokens = Math.min(S.bucket.tokens, (S.limits.burst || 50) - S.sentOnConn);
    S.filesURL = (f.files_url || '').replace(/\/+$/, '');
    learnNodes(f.nodes);
    login();
  },
  message(f) { addMessage(f); },
  recall(f) {
    if (!f.history) S.lastSeen = Math.max(S.lastSeen, f.id || 0);
    const c = convOfMessage(f);
    const m = c.byId.get(f.msg);
    if (m) { m.recalled = true; delete m.text; delete m.file; delete m.kind; rerenderMessage(c, m); }
  },
  presence(f) {
    S.presence.set(fold(f.name), f.status === 'online');
    S.names.set(fold(f.name), f.name);
    for (const c of S.convs.values()) {
      const m = c.members.get(fold(f.name));
      if (m) m.online = f.status === 'online';
    }
    renderMembers();
    renderConvList();
  },
  member(f) {
    const c = getConv('room', f.room);
    const mine = fold(f.name) === fold(S.me);
    S.names.set(fold(f.name), f.name);
    if (f.action === 'join') {
      c.members.set(fold(f.name), { name: f.name, online: S.presence.get(fold(f.name)) ?? true, owner: fold(c.owner) === fold(f.name) });
      if (mine) c.joined = true;
    } else {
      c.members.delete(fold(f.name));
      if (mine) c.joined = false;
      if (f.action === 'kick' && !mine) notice(c, f.name + ' was removed from ' + c.name + ' by ' + f.by + '.');
    }
    if (mine && !c.joined && S.current === c.key) switchTo('lobby');
    renderConvList();
    renderMembers();
  },
  owner(f) {
    const c = getConv('room', f.room);
    c.owner = f.name || '';
    for (const m of c.members.values()) m.owner = fold(m.name) === fold(c.owner);
    if (f.name) notice(c, f.name + ' owns ' + c.name + ' now.');
    renderMembers();
    renderHeader();
  },
  kicked(f) {
    const c = getConv('room', f.room);
    c.joined = false;
    notice(getConv('room', 'lobby'), f.message || ('You were removed from ' + f.room + '.'));
    if (S.current === c.key) switchTo('lobby');
    renderConvList();
  },
  replaced(f) {
    S.connState = 'replaced';
    S.replacedMessage = f.message;
  },
  bye() { /* the socket's close event follows */ },
  ping() { S.ws && S.ws.readyState === WebSocket.OPEN && S.ws.send('{"type":"pong"}'); },
};

function handleFrame(f) {
  if (f.type === 'ok' || (f.type === 'error' && f.re)) { handleReply(f); return; }
  if (f.type === 'error' && f.code === 'unavailable') { S.ws && S.ws.close(); return; }
  if (f.type === 'error') { console.warn('server error', f.code, f.message); return; }
  const h = onEvent[f.type];
  if (h) h(f);
}

// ---------------------------------------------------------------------
// Messages

function isMention(f) {
  if (!f.text || !S.me) return false;
  const t = fold(f.text);
  // The login name and the nick (S.nick, set by features.js) both count.
  for (const me of [S.me, S.nick].filter(Boolean).map(fold)) {
    let i = t.indexOf(me);
    while (i >= 0) {
      const before = i === 0 ? ' ' : t[i - 1];
      const after = t[i + me.length] || ' ';
      if (!/[\p{L}\p{N}_]/u.test(before) && !/[\p{L}\p{N}_]/u.test(after)) return true;
      i = t.indexOf(me, i + 1);
    }
  }
  return false;
}

function addMessage(f) {
  if (!f.history) S.lastSeen = Math.max(S.lastSeen, f.id || 0);
  const c = convOfMessage(f);
  S.names.set(fold(f.from), f.from);
  const old = c.byId.get(f.id);
  if (old) {
    // Each message is shown once; a later copy may only say that it
    // was recalled.
    if (f.recalled && !old.recalled) { old.recalled = true; delete old.text; delete old.file; rerenderMessage(c, old); }
    return;
  }
  const m = { ...f, mention: fold(f.from) !== fold(S.me) && isMention(f) };
  c.byId.set(m.id, m);
  let i = c.msgs.length;
  while (i > 0 && c.msgs[i - 1].id > m.id) i--;
  c.msgs.splice(i, 0, m);
  if (!c.oldest || m.id < c.oldest) c.oldest = m.id;
  const fromMe = fold(f.from) === fold(S.me);
  if (!f.history && !fromMe) {
    const seen = S.current === c.key && !document.hidden;
    if (!seen) {
      c.unread++;
      if (m.mention) c.mentions++;
      if (m.mention || c.kind === 'dm') notifyMessage(c, m);
    }
    renderConvList();
    renderTitle();
  } else if (c.kind === 'dm') {
    renderConvList();
  }
  if (S.current === c.key) {
    if (i === c.msgs.length - 1) appendMessage(c, m);
    else scheduleRender();
  }
}

function notice(c, text) {
  const n = { notice: true, text, time: Date.now(), id: 0, seq: (S.noticeSeq = (S.noticeSeq || 0) + 1) };
  c.notices.push(n);
  if (S.current === c.key) {
    const box = $('messages');
    const stick = nearBottom(box);
    box.append(renderNotice(n));
    if (stick) box.scrollTop = box.scrollHeight;
  }
}

let renderPending = false;
function scheduleRender() {
  if (renderPending) return;
  renderPending = true;
  queueMicrotask(() => { renderPending = false; renderMessages(true); });
}

const nearBottom = (box) => box.scrollHeight - box.scrollTop - box.clientHeight < 80;

function renderMessages(keepPlace) {
  const box = $('messages');
  const c = S.convs.get(S.current);
  if (!c) return;
  const fromBottom = box.scrollHeight - box.scrollTop;
  const stick = nearBottom(box);
  const frag = document.createDocumentFragment();
  if (c.atStart) frag.append(el('p', { class: 'start muted' }, 'This is the start of the conversation.'));
  else if (c.loadingHistory) frag.append(el('p', { class: 'start muted' }, 'Loading older messages…'));
  else if (c.msgs.length) frag.append(el('p', { class: 'start' }, el('button', { type: 'button', class: 'link', onclick: () => loadHistory(c, 50) }, 'Load older messages')));
  let prev = null;
  for (const m of c.msgs) {
    if (!prev || dayKey(prev.time) !== dayKey(m.time)) frag.append(daySeparator(m.time));
    frag.append(renderMessage(c, m));
    prev = m;
  }
  for (const n of c.notices) frag.append(renderNotice(n));
  box.replaceChildren(frag);
  if (!keepPlace || stick) box.scrollTop = box.scrollHeight;
  else box.scrollTop = box.scrollHeight - fromBottom;
}

function daySeparator(time) {
  return el('div', { class: 'day', role: 'separator' }, el('span', {}, dayFmt.format(new Date(time))));
}

function appendMessage(c, m) {
  const box = $('messages');
  const stick = nearBottom(box) || fold(m.from) === fold(S.me);
  const prev = c.msgs[c.msgs.length - 2];
  if (!prev || dayKey(prev.time) !== dayKey(m.time)) box.append(daySeparator(m.time));
  box.append(renderMessage(c, m));
  if (stick) box.scrollTop = box.scrollHeight;
}

function rerenderMessage(c, m) {
  if (S.current !== c.key) return;
  const old = $('messages').querySelector('[data-id="' + m.id + '"]');
  if (old) old.replaceWith(renderMessage(c, m));
}

function renderNotice(n) {
  return el('div', { class: 'msg notice' }, el('time', { class: 'time', datetime: new Date(n.time).toISOString() }, timeFmt.format(new Date(n.time))), el('span', { class: 'text' }, n.text));
}

// linkify appends text to parent, with http: and https: URLs as links.
// Every other scheme (javascript:, data:, …) stays plain text.
function linkify(parent, text) {
  const re = /\bhttps?:\/\/[^\s<>"'`]+/gi;
  let last = 0;
  for (const match of text.matchAll(re)) {
    let url = match[0];
    const trail = url.match(/[.,;:!?)\]}'"]+$/);
    if (trail) url = url.slice(0, -trail[0].length);
    const start = match.index;
    let href = '';
    try {
      const u = new URL(url);
      if (u.protocol === 'http:' || u.protocol === 'https:') href = u.href;
    } catch (e) { /* not a URL */ }
    if (!href) continue;
    parent.append(text.slice(last, start));
    parent.append(el('a', { href, target: '_blank', rel: 'noopener noreferrer nofollow' }, url));
    last = start + url.length;
  }
  parent.append(text.slice(last));
}

function renderMessage(c, m) {
  const mine = fold(m.from) === fold(S.me);
  const row = el('article', { class: 'msg' + (mine ? ' mine' : '') + (m.mention ? ' mention' : ''), 'data-id': m.id, 'aria-label': 'Message from ' + m.from });
  const head = el('div', { class: 'head' },
    el('span', { class: 'from' }, shown(m.from)),
    el('time', { class: 'time', datetime: new Date(m.time).toISOString(), title: new Date(m.time).toLocaleString() }, timeFmt.format(new Date(m.time))));
  row.append(head);
  const body = el('div', { class: 'body' });
  if (m.recalled) {
    body.append(el('em', { class: 'muted' }, 'message recalled'));
  } else {
    if (m.kind === 'file' && m.file) body.append(renderFile(c, m));
    if (m.text) { const p = el('p', { class: 'text' }); linkify(p, m.text); body.append(p); }
  }
  row.append(body);
  const items = [];
  if (mine && !m.recalled && Date.now() - m.time < (S.limits.recall_secs || 120) * 1000) {
    items.push(el('button', { type: 'button', role: 'menuitem', onclick: () => recall(m.id) }, 'Recall'));
  }
  if (hooks.message) hooks.message(c, m, row, items);
  if (items.length) {
    const menu = el('div', { class: 'menu', hidden: true, role: 'menu' }, ...items);
    const btn = el('button', {
      type: 'button', class: 'icon actions', 'aria-label': mine ? 'Actions for your message' : 'Actions for the message from ' + shown(m.from), 'aria-haspopup': 'menu', 'aria-expanded': 'false',
      onclick: () => {
        const open = menu.hidden;
        menu.hidden = !open;
        btn.setAttribute('aria-expanded', String(open));
        if (open) menu.querySelector('button').focus();
      },
    }, '⋯');
    menu.addEventListener('keydown', (e) => { if (e.key === 'Escape') { menu.hidden = true; btn.focus(); } });
    head.append(btn, menu);
  }
  return row;
}

const imageExt = /\.(png|jpe?g|gif|webp)$/i;

function renderFile(c, m) {
  const f = m.file;
  const space = f.private ? c.name : '';
  const card = el('div', { class: 'file' });
  const sticker = /^sticker-([a-z]+)\.png$/.exec(f.name);
  const label = sticker ? 'sticker ' + sticker[1] : (f.private ? '🔒 ' : '📄 ') + f.name + ' (' + humanSize(f.size || 0) + ')' + (f.private ? ', private to you two' : '');
  card.append(el('button', { type: 'button', class: 'link' + (sticker ? ' sticker-label' : ''), onclick: () => download(f.path, space), 'aria-label': 'Download ' + f.name }, label));
  if (imageExt.test(f.name) && (f.size || 0) <= 10 << 20) {
    const img = el('img', { class: 'thumb' + (sticker ? ' sticker-img' : ''), alt: sticker ? 'sticker ' + sticker[1] : f.name, loading: 'lazy' });
    card.append(img);
    thumbnail(f.path, space).then((url) => { if (url) img.src = url; else img.remove(); });
  }
  return card;
}

// ---------------------------------------------------------------------
// Sending, commands, completion

function expandEmoji(text) {
  return expand(S.emoji, text);
}

function utf8Len(s) { return new TextEncoder().encode(s).length; }

// sendMessage queues a message for c. It shows in the outbox until the
// server has stored it (its echo comes back as a message).
function sendMessage(c, extra) {
  const frame = { type: 'send', ...convTarget(c), ...extra, key: newKey() };
  const item = { frame, conv: c.key, text: extra.text || (extra.file && extra.file.name) || '' };
  S.outbox.push(item);
  renderOutbox();
  return request(frame).then((ok) => {
    S.outbox.splice(S.outbox.indexOf(item), 1);
    renderOutbox();
    return ok;
  }, (err) => {
    S.outbox.splice(S.outbox.indexOf(item), 1);
    renderOutbox();
    notice(getConv(c.kind, c.name), 'Not sent (' + err.code + '): ' + err.message + ': ' + item.text);
    throw err;
  });
}
function sendText(c, raw) {
  const text = expandEmoji(raw);
  const n = utf8Len(text);
  if (n > (S.limits.text || 4000)) {
    notice(c, 'That message is ' + n + ' bytes; the server takes at most ' + S.limits.text + '. Shorten it and send it again.');
    return false;
  }
  if (!text.trim()) return false;
  sendMessage(c, { text }).catch(() => {});
  return true;
}

function renderOutbox() {
  const box = $('outbox');
  const items = S.outbox.filter((i) => i.conv === S.current);
  box.replaceChildren(...items.map((i) => el('div', { class: 'msg pending' },
    el('span', { class: 'muted' }, S.loggedIn ? 'sending… ' : 'waiting for the connection… '), el('span', { class: 'text' }, i.text))));
}

const commands = [
  { name: 'join', args: 'ROOM', help: 'join ROOM, creating it if it is new (the creator owns it), and switch to it' },
  { name: 'leave', args: '[ROOM]', help: 'leave ROOM (default: the current room)' },
  { name: 'switch', args: '#ROOM | @NAME', help: 'make a room or a private conversation the current one' },
  { name: 'msg', args: 'NAME TEXT', help: 'send TEXT to NAME only (delivered at their next login if offline)' },
  { name: 'query', args: 'NAME', help: 'open a private conversation with NAME' },
  { name: 'rooms', args: '', help: 'list rooms with member counts and owners' },
  { name: 'who', args: '[ROOM]', help: 'list the members of ROOM (default: the current room)' },
  { name: 'history', args: '[N]', help: 'show N (default 20) older messages' },
  { name: 'recall', args: '[ID]', help: 'recall your message ID (default: your last one), within the recall window' },
  { name: 'kick', args: 'NAME', help: 'remove NAME from the current room and ban them (owner only)' },
  { name: 'unban', args: 'NAME', help: 'let NAME join the current room again (owner only)' },
  { name: 'files', args: '[FOLDER]', help: 'show the files of this conversation (the shared folder, or in a private conversation the private space of you two)' },
  { name: 'upload', args: '[-f]', help: 'choose files to upload and post here (or drop them, or paste an image); -f replaces your own file of the same name' },
  { name: 'cancel', args: '', help: 'cancel the newest upload' },
  { name: 'download', args: 'NAME | ID', help: 'download a file by name or by the id of its message' },
  { name: 'rm', args: 'NAME', help: 'delete a file you uploaded' },
  { name: 'sticker', args: 'NAME', help: 'post a sticker' },
  { name: 'emoji', args: '', help: 'open the emoji picker' },
  { name: 'users', args: '', help: 'show or hide the member list' },
  { name: 'refresh', args: '', help: 'reconnect now, keeping unsent messages' },
  { name: 'clear', args: '', help: 'clear the notices of this conversation' },
  { name: 'help', args: '', help: 'list the commands and keys' },
  { name: 'quit', args: '', help: 'log out of this tab' },
];

function stripRoom(s) { return (s || '').replace(/^#/, ''); }
function stripAt(s) { return (s || '').replace(/^@/, ''); }

async function runCommand(c, line) {
  const [, name, rest = ''] = line.match(/^\/(\S+)\s*([\s\S]*)$/) || [];
  const args = rest.trim().split(/\s+/).filter(Boolean);
  const fail = (e) => notice(S.convs.get(S.current) || c, (e.code ? e.code + ': ' : '') + (e.message || e));
  try {
    if (hooks.command && await hooks.command(c, (name || '').toLowerCase(), rest, args)) return;
    switch ((name || '').toLowerCase()) {
      case 'join': {
        if (!args[0]) throw { message: 'usage: /join ROOM' };
        await joinRoom(stripRoom(args[0]));
        break;
      }
      case 'leave': {
        const room = args[0] ? stripRoom(args[0]) : (c.kind === 'room' ? c.name : '');
        if (!room) throw { message: 'usage: /leave ROOM (this is a private conversation)' };
        await request({ type: 'leave', room });
        const lc = getConv('room', room);
        lc.joined = false;
        if (S.current === lc.key) switchTo('lobby');
        renderConvList();
        break;
      }
      case 'switch': case 'query': {
        const t = args[0] || '';
        if (!t) throw { message: 'usage: /' + name + ' #ROOM or @NAME' };
        if (name === 'query' || t.startsWith('@')) openDM(stripAt(t));
        else {
          const rc = S.convs.get(convKey('room', stripRoom(t)));
          if (!rc || !rc.joined) throw { message: 'you are not in ' + stripRoom(t) + '; /join it first' };
          switchTo(rc.key);
        }
        break;
      }
      case 'msg': {
        const m = rest.match(/^(\S+)\s+([\s\S]+)$/);
        if (!m) throw { message: 'usage: /msg NAME TEXT' };
        const dc = getConv('dm', stripAt(m[1]));
        sendText(dc, m[2]);
        renderConvList();
        break;
      }
      case 'rooms': {
        const ok = await request({ type: 'rooms' });
        notice(c, 'Rooms: ' + (ok.rooms || []).map((r) => r.name + ' (' + r.members + (r.owner ? ', owner ' + r.owner : '') + (r.joined ? ', joined' : '') + ')').join('; ') + (ok.more ? '; and ' + ok.more + ' more' : ''));
        break;
      }
      case 'who': {
        const room = args[0] ? stripRoom(args[0]) : (c.kind === 'room' ? c.name : 'lobby');
        const ok = await request({ type: 'who', room });
        notice(c, 'In ' + (ok.room || room) + ': ' + (ok.members || []).map((m) => m.name + (m.owner ? ' (owner)' : '') + (m.online ? '' : ' (offline)')).join(', ') + (ok.banned && ok.banned.length ? '. Banned: ' + ok.banned.join(', ') : ''));
        break;
      }
      case 'history': {
        const n = Math.min(Number(args[0]) || 20, S.limits.history || 200);
        await loadHistory(c, n);
        break;
      }
      case 'recall': {
        await recall(args[0] ? Number(args[0].replace(/^#/, '')) : 0);
        break;
      }
      case 'kick': case 'unban': {
        if (c.kind !== 'room' || !args[0]) throw { message: 'usage: /' + name + ' NAME, in a room you own' };
        await request({ type: name, room: c.name, name: stripAt(args[0]) });
        notice(c, name === 'kick' ? stripAt(args[0]) + ' is removed from ' + c.name + ' and may not join again until you /unban them.' : stripAt(args[0]) + ' may join ' + c.name + ' again.');
        refreshMembers();
        break;
      }
      case 'files':
        F.path = args[0] ? rest.trim().replace(/^\/+|\/+$/g, '') : '';
        F.space = filesSpace();
        if (S.panel === 'files') listFiles(); else showPanel('files');
        break;
      case 'upload':
        S.overwriteNext = args[0] === '-f';
        $('file-input').click();
        break;
      case 'cancel': {
        const live = [...transfers].filter((x) => ['starting', 'uploading', 'retrying'].includes(x.state));
        const last = live[live.length - 1];
        if (!last) throw { message: 'no upload in progress' };
        last.cancelled = true;
        last.xhr && last.xhr.abort();
        break;
      }
      case 'users': showPanel('members'); break;
      case 'download': {
        if (!args[0]) throw { message: 'usage: /download NAME or ID' };
        const id = Number(args[0].replace(/^#/, ''));
        let msg = null;
        for (const cc of S.convs.values()) { const m = cc.byId.get(id); if (m && m.file) { msg = m; msg.conv = cc; } }
        if (msg) await download(msg.file.path, msg.file.private ? msg.conv.name : '');
        else await download(rest.trim(), c.kind === 'dm' ? c.name : '');
        break;
      }
      case 'rm': {
        if (!args[0]) throw { message: 'usage: /rm NAME' };
        await removeFile(rest.trim(), c.kind === 'dm' ? c.name : '');
        notice(c, 'Deleted ' + rest.trim() + '.');
        break;
      }
      case 'sticker': {
        if (!args[0]) { notice(c, 'Stickers: ' + S.stickers.join(', ')); break; }
        await postSticker(c, args[0].toLowerCase());
        break;
      }
      case 'emoji': togglePicker('emoji-picker', true); break;
      case 'refresh': notice(c, 'Reconnecting…'); reconnectNow(); break;
      case 'clear': c.notices = []; renderMessages(true); break;
      case 'help': showHelp(); break;
      case 'quit': logout(); break;
      default: throw { message: 'unknown command /' + name + '; /help lists them' };
    }
  } catch (e) { fail(e); }
}

async function joinRoom(room) {
  const ok = await request({ type: 'join', room });
  const c = getConv('room', ok.room || room);
  c.name = ok.room || room;
  c.owner = ok.owner || '';
  c.joined = true;
  if (hooks.joined) hooks.joined(c, ok);
  switchTo(c.key);
  refreshMembers();
}

async function recall(id) {
  try {
    await request({ type: 'recall', msg: id || undefined });
  } catch (e) {
    notice(S.convs.get(S.current), 'Could not recall: ' + (e.message || e.code));
  }
}

function openDM(name) {
  if (!name) return;
  const c = getConv('dm', S.names.get(fold(name)) || name);
  switchTo(c.key);
  if (!c.msgs.length && !c.atStart) loadHistory(c, 20);
}

async function loadHistory(c, limit) {
  if (c.loadingHistory || c.atStart) return;
  c.loadingHistory = true;
  try {
    const ok = await request({ type: 'history', ...convTarget(c), before: c.oldest || undefined, limit });
    if (!ok.before || (ok.limit || 0) < limit) c.atStart = true;
    if (ok.before) c.oldest = Math.min(c.oldest || ok.before, ok.before);
  } catch (e) {
    notice(c, 'Could not load history: ' + e.message);
  } finally {
    c.loadingHistory = false;
    if (S.current === c.key) renderMessages(true);
  }
}

// Completion: commands after "/", names after "@", rooms after "#",
// emoji after ":" (two letters at least).
// argCompletions lists what the first argument of command cmd can be,
// as the terminal client does: rooms, people, banned names, stickers,
// the ids of the conversation's file messages and the folder's files
// (/download), your files (/rm), your messages (/recall). word is what is
// typed of it so far.
function argCompletions(c, cmd, word) {
  const sigil = /^[#@]/.test(word) ? word[0] : '';
  const w = fold(word.slice(sigil.length));
  const rooms = (joined) => [...S.convs.values()]
    .filter((x) => x.kind === 'room' && (!joined || x.joined) && !(joined && cmd === 'leave' && x.key === 'lobby') && fold(x.name).startsWith(w))
    .map((x) => ({ label: '#' + x.name, insert: sigil + x.name + ' ' }));
  const people = () => [...S.names.values()]
    .filter((n) => fold(n) !== fold(S.me) && fold(n).startsWith(w)).sort()
    .map((n) => ({ label: shown(n), insert: sigil + n + ' ' }));
  const ids = (keep) => c.msgs.filter((m) => !m.recalled && keep(m) && String(m.id).startsWith(w)).reverse();
  // The files of this conversation's space, if the folder panel has
  // listed its top folder.
  const space = c.kind === 'dm' ? c.name : '';
  const listed = F.listed === space + '\u0000' && F.space === space ? F.entries.filter((e) => !e.dir) : [];
  const files = (keep) => listed.filter((e) => keep(e) && fold(e.path).startsWith(fold(word))).sort((a, b) => a.path.localeCompare(b.path))
    .map((e) => ({ label: e.path, insert: e.path }));
  switch (cmd) {
    case 'join': return rooms(false);
    case 'leave': case 'who': return rooms(true);
    case 'switch': return [...(sigil !== '@' ? rooms(true).map((r) => ({ ...r, insert: '#' + r.insert.replace(/^#/, '') })) : []), ...(sigil !== '#' ? people().map((p) => ({ label: '@' + p.label, insert: '@' + p.insert.replace(/^@/, '') })) : [])];
    case 'msg': case 'query': return people();
    case 'kick': case 'op': case 'deop': case 'voice': case 'devoice': return [...c.members.values()]
      .filter((m) => fold(m.name) !== fold(S.me) && fold(m.name).startsWith(w)).sort((a, b) => a.name.localeCompare(b.name))
      .map((m) => ({ label: shown(m.name), insert: sigil + m.name + ' ' }));
    case 'secret': case 'topiclock': return ['on', 'off'].filter((v) => v.startsWith(w)).map((v) => ({ label: v, insert: v }));
    case 'unban': return (c.banned || []).filter((n) => fold(n).startsWith(w)).map((n) => ({ label: n, insert: n + ' ' }));
    case 'sticker': return (S.stickers || []).filter((n) => n.startsWith(w)).map((n) => ({ label: n, insert: n + ' ' }));
    case 'download': return [
      ...ids((m) => m.file).map((m) => ({ label: '#' + m.id + ' ' + m.file.name, insert: m.id + ' ' })),
      ...files(() => true)];
    case 'rm': return files((e) => space || !e.uploader || fold(e.uploader) === fold(S.me));
    case 'recall': return ids((m) => fold(m.from) === fold(S.me)).map((m) => ({ label: '#' + m.id + ' ' + (m.text || (m.file && m.file.name) || '').slice(0, 40), insert: m.id + ' ' }));
  }
  return [];
}

function completions(text, caret) {
  const upto = text.slice(0, caret);
  const arg = upto.match(/^\/(\S+) (\S*)$/);
  const c = S.convs.get(S.current);
  if (arg && c) {
    const items = argCompletions(c, arg[1].toLowerCase(), arg[2]);
    if (items.length) return { items: items.slice(0, 8), start: caret - arg[2].length, end: caret };
  }
  const m = upto.match(/(^|\s)([/@#:])([^\s]*)$/);
  if (!m) return { items: [] };
  const [, , sigil, word] = m;
  const start = caret - word.length - 1;
  const w = fold(word);
  let items = [];
  if (sigil === '/' && start === 0) {
    items = commands.filter((c) => c.name.startsWith(w)).map((c) => ({ label: '/' + c.name + ' ' + c.args, insert: '/' + c.name + ' ' }));
  } else if (sigil === '@') {
    items = [...S.names.values()].filter((n) => fold(n).startsWith(w)).sort().map((n) => ({ label: '@' + n, insert: '@' + n + ' ' }));
  } else if (sigil === '#') {
    items = [...S.convs.values()].filter((c) => c.kind === 'room' && c.joined && fold(c.name).startsWith(w)).map((c) => ({ label: '#' + c.name, insert: '#' + c.name + ' ' }));
  } else if (sigil === ':' && word.length >= 2 && S.emoji) {
    const pre = [], mid = [];
    for (const code of S.emojiCodes) {
      const lc = code.toLowerCase();
      if (lc.startsWith(w)) pre.push(code); else if (pre.length + mid.length < 200 && lc.includes(w)) mid.push(code);
      if (pre.length >= 8) break;
    }
    items = [...pre, ...mid].slice(0, 8).map((code) => ({ label: S.emoji[code] + ' :' + code + ':', insert: S.emoji[code] }));
  }
  return { items: items.slice(0, 8), start, end: caret };
}

let comp = { items: [], sel: 0 };

function updateCompletions() {
  const input = $('input');
  comp = { ...completions(input.value, input.selectionStart), sel: 0 };
  renderCompletions();
}

function renderCompletions() {
  const list = $('completions');
  list.hidden = comp.items.length === 0;
  list.replaceChildren(...comp.items.map((it, i) => el('li', {
    role: 'option', id: 'comp-' + i, 'aria-selected': String(i === comp.sel), class: i === comp.sel ? 'sel' : '',
    onmousedown: (e) => { e.preventDefault(); comp.sel = i; acceptCompletion(); },
  }, it.label)));
  $('input').setAttribute('aria-activedescendant', comp.items.length ? 'comp-' + comp.sel : '');
}

function acceptCompletion() {
  const it = comp.items[comp.sel];
  if (!it) return false;
  const input = $('input');
  const v = input.value;
  input.value = v.slice(0, comp.start) + it.insert + v.slice(comp.end);
  const at = comp.start + it.insert.length;
  input.setSelectionRange(at, at);
  comp = { items: [], sel: 0 };
  renderCompletions();
  autosize();
  return true;
}

const inputHistory = [];
let historyAt = -1;

function submitInput() {
  const input = $('input');
  const text = input.value;
  if (!text.trim()) return;
  const c = S.convs.get(S.current);
  inputHistory.unshift(text);
  historyAt = -1;
  if (text.startsWith('/') && !text.startsWith('//')) {
    input.value = '';
    runCommand(c, text.trim());
  } else if (sendText(c, text.startsWith('//') ? text.slice(1) : text)) {
    input.value = '';
  }
  autosize();
  updateCompletions();
}

function autosize() {
  const t = $('input');
  t.style.height = 'auto';
  t.style.height = Math.min(t.scrollHeight, 200) + 'px';
}

// ---------------------------------------------------------------------
// Files: listing, live events, downloads, tus uploads

function setFilesToken(token, expires) {
  S.filesToken = token;
  S.filesExpires = expires || 0;
  clearTimeout(S.filesTimer);
  if (expires) {
    // Renew a minute before expiry (or halfway through a shorter life).
    const life = expires - Date.now();
    const at = Math.max(5000, Math.min(life - 60000, life / 2));
    S.filesTimer = setTimeout(renewFilesToken, at);
  }
}

async function renewFilesToken() {
  try {
    const ok = await request({ type: 'files_token' });
    setFilesToken(ok.files_token, ok.expires);
  } catch (e) { console.warn('files_token', e); }
}

function filesEndpoint(path, query) {
  const u = new URL(S.filesURL + path);
  for (const [k, v] of Object.entries(query || {})) if (v) u.searchParams.set(k, v);
  return u.href;
}

const encodePath = (p) => p.split('/').map(encodeURIComponent).join('/');

async function filesFetch(url, init = {}) {
  if (!S.filesURL) throw { code: 'no_files', message: 'this chat server has no file server' };
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(url, { ...init, headers: { ...(init.headers || {}), Authorization: 'Bearer ' + S.filesToken } });
    if (res.status === 401 && attempt === 0) { await renewFilesToken(); continue; }
    if (!res.ok) {
      let body = {};
      try { body = await res.json(); } catch (e) { /* not JSON */ }
      throw { status: res.status, code: body.code || String(res.status), message: body.message || res.statusText };
    }
    return res;
  }
}

const thumbs = new Map();
function thumbnail(path, space) {
  const k = space + '\u0000' + path;
  if (!thumbs.has(k)) {
    thumbs.set(k, filesFetch(filesEndpoint('/files/' + encodePath(path), { with: space }))
      .then((r) => r.blob()).then((b) => (b.type.startsWith('image/') ? URL.createObjectURL(b) : ''))
      .catch(() => { thumbs.delete(k); return ''; }));
  }
  return thumbs.get(k);
}

async function download(path, space) {
  if (!S.filesURL) { notice(S.convs.get(S.current), 'This chat server has no file server.'); return; }
  if (S.filesExpires && S.filesExpires - Date.now() < 60000) await renewFilesToken();
  // A browser cannot set a header on a download it saves itself, so
  // the short-lived file token goes in the URL here, and only here.
  // The file server answers with Content-Disposition: attachment, so the
  // page stays where it is.
  const a = el('a', { href: filesEndpoint('/files/' + encodePath(path), { with: space, access_token: S.filesToken }), download: path.split('/').pop(), rel: 'noopener noreferrer' });
  document.body.append(a);
  a.click();
  a.remove();
}

async function removeFile(path, space) {
  await filesFetch(filesEndpoint('/files/' + encodePath(path), { with: space }), { method: 'DELETE' });
  if (space) listFiles();
}

const F = { path: '', space: '', entries: [], abort: null, lastEvent: '', listed: '' };

function filesSpace() {
  const c = S.convs.get(S.current);
  return c && c.kind === 'dm' ? c.name : '';
}

async function listFiles() {
  const space = filesSpace();
  if (space !== F.space) { F.space = space; F.path = ''; }
  const want = space + '\u0000' + F.path;
  $('files-title').textContent = space ? 'Private files with ' + space : 'Shared folder';
  $('files-path').textContent = space ? 'Only you two see these.' : (F.path ? '/' + F.path : '/');
  $('files-up').hidden = !F.path;
  $('files-error').textContent = '';
  // Events that arrive while the listing is on its way may be newer than
  // it: they are applied again on top of it.
  const during = [];
  F.during = during;
  try {
    const res = await filesFetch(filesEndpoint('/api/files', { path: F.path, with: space }));
    const body = await res.json();
    if (want !== F.space + '\u0000' + F.path) return;
    F.entries = body.entries || [];
    F.listed = want;
    if (F.during === during) F.during = null;
    for (const [type, data] of during) applyFileEvent(type, data);
  } catch (e) {
    F.entries = [];
    $('files-error').textContent = 'Could not list the files: ' + e.message;
  }
  if (F.during === during) F.during = null;
  renderFiles();
}

function renderFiles() {
  const list = $('file-list');
  const sorted = [...F.entries].sort((a, b) => (b.dir - a.dir) || a.name.localeCompare(b.name));
  list.replaceChildren(...sorted.map((e) => {
    if (e.dir) return el('li', { class: 'file-entry' }, el('button', { type: 'button', class: 'link', onclick: () => { F.path = e.path; listFiles(); } }, '📁 ' + e.name + '/'));
    const canDelete = F.space || !e.uploader || fold(e.uploader) === fold(S.me);
    return el('li', { class: 'file-entry' },
      el('button', { type: 'button', class: 'link', onclick: () => download(e.path, F.space), 'aria-label': 'Download ' + e.name }, e.name),
      el('span', { class: 'muted' }, ' ' + humanSize(e.size) + (e.uploader ? ' · ' + e.uploader : '')),
      canDelete ? el('button', {
        type: 'button', class: 'icon danger', 'aria-label': 'Delete ' + e.name,
        onclick: async () => {
          if (!confirm('Delete ' + e.name + '?')) return;
          try { await removeFile(e.path, F.space); } catch (err) { $('files-error').textContent = 'Could not delete ' + e.name + ': ' + err.message; }
        },
      }, '🗑') : null);
  }));
  if (!sorted.length) list.append(el('li', { class: 'muted' }, 'Nothing here yet. Drop a file on the conversation, or paste an image.'));
}

function parentOf(p) { const i = p.lastIndexOf('/'); return i < 0 ? '' : p.slice(0, i); }

function applyFileEvent(type, data) {
  if (type === 'reset') { if (!F.space) listFiles(); return; }
  if (F.during) F.during.push([type, data]);
  if (F.space || !data.path) return; // the stream shows the shared folder only
  if (parentOf(data.path) !== F.path) {
    if (data.dir && type === 'removed' && (F.path + '/').startsWith(data.path + '/')) { F.path = ''; listFiles(); }
    return;
  }
  F.entries = F.entries.filter((e) => e.path !== data.path);
  if (type !== 'removed' && data.entry) F.entries.push(data.entry);
  renderFiles();
}

// startFileEvents reads the file server's event stream with fetch, so
// that the token goes in a header (EventSource cannot send one), and
// resumes with Last-Event-ID after a drop.
async function startFileEvents() {
  if (!S.filesURL || F.abort) return;
  const ctl = new AbortController();
  F.abort = ctl;
  let failures = 0;
  while (!ctl.signal.aborted) {
    try {
      const headers = { Accept: 'text/event-stream' };
      if (F.lastEvent) headers['Last-Event-ID'] = F.lastEvent;
      const res = await filesFetch(filesEndpoint('/api/events'), { headers, signal: ctl.signal, cache: 'no-store' });
      failures = 0;
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      const dec = new SSEDecoder();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const ev of dec.push(value)) {
          let data = {};
          try { data = JSON.parse(ev.data); } catch (e) { continue; }
          applyFileEvent(ev.type, data);
        }
        if (dec.lastId) F.lastEvent = dec.lastId;
      }
    } catch (e) {
      if (ctl.signal.aborted) break;
      failures++;
    }
    if (ctl.signal.aborted) break;
    await sleep(Math.min(30000, 1000 * 2 ** Math.min(failures, 5)));
  }
}

// Uploads: tus 1.0 (core, creation, termination), one PATCH per chunk so
// that a dropped connection loses one chunk at most and the upload goes
// on from the offset the server confirms.
const CHUNK = 4 << 20;
const transfers = new Set();

function tusMeta(kv) {
  const b64 = (s) => btoa(String.fromCharCode(...new TextEncoder().encode(s)));
  return Object.entries(kv).filter(([, v]) => v).map(([k, v]) => k + ' ' + b64(v)).join(',');
}

async function sha256Hex(blob) {
  if (!crypto.subtle || blob.size > 64 << 20) return ''; // only in secure contexts; large files go unhashed
  const d = await crypto.subtle.digest('SHA-256', await blob.arrayBuffer());
  return Array.from(new Uint8Array(d), (x) => x.toString(16).padStart(2, '0')).join('');
}

function xhrPatch(t, url, offset, chunk) {
  return new Promise((resolve, reject) => {
    const x = new XMLHttpRequest();
    t.xhr = x;
    x.open('PATCH', url);
    x.setRequestHeader('Authorization', 'Bearer ' + S.filesToken);
    x.setRequestHeader('Tus-Resumable', '1.0.0');
    x.setRequestHeader('Upload-Offset', String(offset));
    x.setRequestHeader('Content-Type', 'application/offset+octet-stream');
    x.upload.onprogress = (e) => { t.done = offset + e.loaded; renderTransfer(t); };
    x.onload = () => {
      if (x.status === 204 || x.status === 200) resolve(Number(x.getResponseHeader('Upload-Offset')));
      else {
        let b = {};
        try { b = JSON.parse(x.responseText); } catch (e) { /* not JSON */ }
        reject({ status: x.status, code: b.code || String(x.status), message: b.message || x.statusText });
      }
    };
    x.onerror = () => reject({ network: true, message: 'the connection to the file server dropped' });
    x.onabort = () => reject({ aborted: true, message: 'cancelled' });
    x.send(chunk);
  });
}

async function upload(blob, name, c, overwrite) {
  if (!S.filesURL) { notice(c, 'This chat server has no file server.'); return; }
  const space = c.kind === 'dm' ? c.name : '';
  const t = { name, size: blob.size, done: 0, state: 'starting', cancelled: false, xhr: null, url: '' };
  transfers.add(t);
  renderTransfer(t);
  try {
    const sum = await sha256Hex(blob);
    // A name that is taken gets " (1)", " (2)", … as the terminal client does.
    const dot = name.lastIndexOf('.');
    const stem = dot > 0 ? name.slice(0, dot) : name;
    const ext = dot > 0 ? name.slice(dot) : '';
    let path = name;
    for (let n = 0; ; n++) {
      path = n ? stem + ' (' + n + ')' + ext : name;
      if (sum) {
        // Bytes the space already holds under that name need no upload.
        try {
          const h = await filesFetch(filesEndpoint('/files/' + encodePath(path), { with: space }), { method: 'HEAD' });
          if ((h.headers.get('ETag') || '').replace(/"/g, '').toLowerCase() === sum) { t.url = ''; break; }
        } catch (e) { /* not there */ }
      }
      try {
        const res = await filesFetch(filesEndpoint('/uploads/'), {
          method: 'POST',
          headers: { 'Tus-Resumable': '1.0.0', 'Upload-Length': String(blob.size), 'Upload-Metadata': tusMeta({ path, filename: path, sha256: sum, with: space, overwrite: overwrite ? '1' : '' }) },
        });
        t.url = new URL(res.headers.get('Location'), S.filesURL + '/uploads/').href;
        break;
      } catch (e) {
        if (e.code === 'exists' && n < 100 && !overwrite) continue;
        throw e;
      }
    }
    t.path = path;
    t.state = 'uploading';
    let offset = 0;
    let failures = 0;
    let ask = false; // whether to ask the server how much it has first
    while (t.url && offset < blob.size) {
      if (t.cancelled) throw { aborted: true };
      try {
        if (ask) {
          const h = await filesFetch(t.url, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0' } });
          offset = Number(h.headers.get('Upload-Offset')) || 0;
          ask = false;
          t.state = 'uploading';
        }
        offset = await xhrPatch(t, t.url, offset, blob.slice(offset, offset + CHUNK));
        failures = 0;
      } catch (e) {
        if (e.aborted || t.cancelled) throw { aborted: true };
        // A dropped connection, a restarting server or an offset the
        // server disagrees with: wait, ask where it got to, go on.
        const retry = e.network || e instanceof TypeError || e.status >= 500 || e.status === 401 || (e.status === 409 && e.code !== 'exists') || e.status === 423;
        if (!retry || ++failures > 10) throw e;
        if (e.status === 401) await renewFilesToken();
        t.state = 'retrying';
        renderTransfer(t);
        await sleep(Math.min(30000, 500 * 2 ** failures));
        ask = true;
      }
      t.done = offset;
      renderTransfer(t);
    }
    if (t.url && blob.size === 0) await xhrPatch(t, t.url, 0, blob);
    t.state = 'posting';
    t.done = blob.size;
    renderTransfer(t);
    await sendMessage(c, { kind: 'file', file: { name: path.split('/').pop(), size: blob.size, path, sha256: sum || undefined, private: space ? true : undefined } });
    t.state = 'done';
    if (space && F.space === space) listFiles();
  } catch (e) {
    if (e.aborted) {
      t.state = 'cancelled';
      if (t.url) filesFetch(t.url, { method: 'DELETE', headers: { 'Tus-Resumable': '1.0.0' } }).catch(() => {});
    } else {
      t.state = 'failed';
      t.error = e.message || String(e);
      notice(c, 'Upload of ' + name + ' failed: ' + t.error);
    }
  }
  renderTransfer(t);
  setTimeout(() => { transfers.delete(t); t.row && t.row.remove(); }, t.state === 'done' ? 3000 : 10000);
}

function renderTransfer(t) {
  if (!t.row) {
    t.bar = el('progress', { max: t.size || 1, value: 0, 'aria-label': 'Upload of ' + t.name });
    t.label = el('span', { class: 'label' });
    t.cancel = el('button', { type: 'button', 'aria-label': 'Cancel the upload of ' + t.name, onclick: () => { t.cancelled = true; t.xhr && t.xhr.abort(); } }, 'Cancel');
    t.row = el('div', { class: 'transfer' }, t.label, t.bar, t.cancel);
    $('transfers').append(t.row);
  }
  t.bar.max = t.size || 1;
  t.bar.value = t.size ? t.done : 1;
  t.label.textContent = t.name + ': ' + ({ starting: 'starting', uploading: humanSize(t.done) + ' of ' + humanSize(t.size), retrying: 'connection lost, resuming…', posting: 'posting', done: 'uploaded', cancelled: 'cancelled', failed: 'failed: ' + (t.error || '') })[t.state];
  t.cancel.hidden = !['starting', 'uploading', 'retrying'].includes(t.state);
  t.row.dataset.state = t.state;
}

function uploadFiles(files, overwrite) {
  const c = S.convs.get(S.current);
  for (const f of files) {
    let name = f.name || 'file';
    if (/^image\.(png|jpe?g|gif|webp)$/i.test(name) || !f.name) {
      // A pasted screenshot: give it a name that says when.
      const d = new Date();
      const p = (n) => String(n).padStart(2, '0');
      name = 'screenshot-' + d.getFullYear() + p(d.getMonth() + 1) + p(d.getDate()) + '-' + p(d.getHours()) + p(d.getMinutes()) + p(d.getSeconds()) + '.' + ((f.type.split('/')[1] || 'png').replace('jpeg', 'jpg'));
    }
    upload(f, name, c, overwrite);
  }
}

async function postSticker(c, name) {
  if (!S.stickers.includes(name)) throw { message: 'no sticker ' + name + '; there are: ' + S.stickers.join(', ') };
  const res = await fetch('/stickers/' + encodeURIComponent(name) + '.png');
  if (!res.ok) throw { message: 'could not load the sticker' };
  await upload(await res.blob(), 'sticker-' + name + '.png', c);
}

// ---------------------------------------------------------------------
// Rendering: conversation list, header, members, connection state

function render() {
  renderConvList();
  renderHeader();
  renderMessages(false);
  renderMembers();
  renderOutbox();
  renderTitle();
}

function sortedConvs() {
  const rooms = [], dms = [];
  for (const c of S.convs.values()) {
    if (c.kind === 'room') { if (c.joined && c.key !== 'lobby') rooms.push(c); } else dms.push(c);
  }
  rooms.sort((a, b) => a.name.localeCompare(b.name));
  dms.sort((a, b) => a.name.localeCompare(b.name));
  return [getConv('room', 'lobby'), ...rooms, ...dms];
}

function renderConvList() {
  const list = $('conv-list');
  const convs = sortedConvs();
  list.replaceChildren(...convs.map((c, i) => {
    const label = c.kind === 'room' ? '#' + c.name : '@' + shown(c.name);
    const online = c.kind === 'dm' ? S.presence.get(fold(c.name)) : undefined;
    const badge = c.unread ? el('span', { class: 'badge' + (c.mentions ? ' mention' : '') }, (c.mentions ? '@' : '') + c.unread) : null;
    const desc = label + (c.unread ? ', ' + c.unread + ' unread' + (c.mentions ? ', mentions you' : '') : '') + (i < 9 ? ', Alt+' + (i + 1) : '');
    return el('li', {},
      el('button', {
        type: 'button', class: 'conv' + (c.key === S.current ? ' current' : ''), 'aria-current': c.key === S.current ? 'page' : false, 'aria-label': desc,
        onclick: () => { switchTo(c.key); closeDrawer(); },
      },
      c.kind === 'dm' ? el('span', { class: 'dot' + (online ? ' on' : ''), 'aria-hidden': 'true' }) : null,
      el('span', { class: 'name' }, label), badge));
  }));
}

function renderHeader() {
  const c = S.convs.get(S.current);
  if (!c) return;
  $('conv-title').textContent = c.kind === 'room' ? '#' + c.name : '@' + shown(c.name);
  $('conv-sub').textContent = c.kind === 'dm' ? 'private: only you two see this' : (c.owner ? 'owner: ' + c.owner : (c.key === 'lobby' ? 'everyone is here' : ''));
  $('leave-room').hidden = !(c.kind === 'room' && c.key !== 'lobby' && c.joined);
  if (hooks.header) hooks.header(c);
}

function renderMembers() {
  const c = S.convs.get(S.current);
  const list = $('member-list');
  if (!c) return;
  if (c.kind === 'dm') {
    const on = S.presence.get(fold(c.name));
    list.replaceChildren(
      el('li', {}, el('span', { class: 'dot on', 'aria-hidden': 'true' }), el('span', {}, S.me + ' (you)')),
      el('li', {}, el('span', { class: 'dot' + (on ? ' on' : ''), 'aria-hidden': 'true' }), el('span', {}, shown(c.name) + (on ? ', online' : ', offline'))));
    $('banned').replaceChildren();
    return;
  }
  // The owner and the room's operators may kick and unban.
  const mine = c.members.get(fold(S.me));
  const iOwn = fold(c.owner) === fold(S.me) || !!(mine && mine.operator);
  const members = [...c.members.values()].sort((a, b) => (b.online - a.online) || a.name.localeCompare(b.name));
  list.replaceChildren(...members.map((m) => {
    const me = fold(m.name) === fold(S.me);
    return el('li', {},
      el('span', { class: 'dot' + (m.online ? ' on' : ''), 'aria-hidden': 'true' }),
      me ? el('span', {}, shown(m.name) + ' (you)') : el('button', { type: 'button', class: 'link', 'aria-label': 'Private conversation with ' + m.name + (m.online ? ', online' : ', offline'), onclick: () => { openDM(m.name); closeDrawer(); } }, shown(m.name)),
      m.owner ? el('span', { class: 'owner', title: 'owner', 'aria-label': 'owner' }, ' ★ owner')
        : m.operator ? el('span', { class: 'owner', title: 'operator: may kick, unban, set the topic and change roles' }, ' operator') : null,
      m.voice ? el('span', { class: 'muted', title: 'voice: a mark, no right' }, ' voice') : null,
      el('span', { class: 'visually-hidden' }, m.online ? ', online' : ', offline'),
      iOwn && !me && c.key !== 'lobby' ? el('button', { type: 'button', class: 'small danger', 'aria-label': 'Kick ' + m.name, onclick: () => runCommand(c, '/kick ' + m.name) }, 'Kick') : null);
  }));
  $('banned').replaceChildren(...(iOwn && c.banned.length ? [el('h4', {}, 'Banned'), el('ul', {}, ...c.banned.map((n) => el('li', {}, n, ' ', el('button', { type: 'button', class: 'small', 'aria-label': 'Unban ' + n, onclick: () => runCommand(c, '/unban ' + n) }, 'Unban'))))] : []));
}

async function refreshMembers() {
  const c = S.convs.get(S.current);
  if (!c || c.kind !== 'room' || !S.loggedIn) return;
  try {
    const ok = await request({ type: 'who', room: c.name });
    c.members = new Map();
    for (const m of ok.members || []) {
      c.members.set(fold(m.name), { name: m.name, online: !!m.online, owner: !!m.owner, operator: !!m.operator, voice: !!m.voice });
      S.presence.set(fold(m.name), !!m.online);
      S.names.set(fold(m.name), m.name);
      if (m.owner) c.owner = m.name;
    }
    c.banned = ok.banned || [];
    if (hooks.who) hooks.who(c, ok);
    renderMembers();
    renderHeader();
    renderConvList();
  } catch (e) { console.warn('who', e); }
}

function renderTitle() {
  let n = 0;
  for (const c of S.convs.values()) n += c.unread;
  document.title = (n ? '(' + n + ') ' : '') + 'Parley';
}

function setConn(state, message) {
  S.connState = state;
  S.connMessage = message || '';
  renderConn();
  renderOutbox();
}

function renderConn() {
  const text = $('conn-text');
  const btn = $('reconnect-now');
  const dot = $('conn-dot');
  let t = '';
  switch (S.connState) {
    case 'online': t = 'online'; break;
    case 'connecting': t = 'connecting…'; break;
    case 'waiting': {
      const s = Math.max(0, Math.ceil((S.retryAt - Date.now()) / 1000));
      t = (S.connMessage || S.retryWhy || 'Connection lost.') + ' Reconnecting in ' + s + ' s';
      break;
    }
    case 'replaced': t = S.replacedMessage || S.connMessage || 'You logged in somewhere else; this tab will not reconnect by itself.'; break;
    default: t = 'offline';
  }
  if (S.connState !== 'waiting') clearInterval(S.countdownTimer);
  text.textContent = t;
  dot.className = 'dot ' + S.connState;
  btn.hidden = !(S.connState === 'waiting' || S.connState === 'replaced');
  btn.textContent = S.connState === 'replaced' ? 'Log in here again' : 'Reconnect now';
  const banner = $('banner');
  banner.hidden = S.connState !== 'replaced';
  banner.textContent = S.connState === 'replaced' ? t : '';
  if (S.connState === 'online' && S.connMessage) {
    const c = S.convs.get(S.current);
    if (c) notice(c, S.connMessage);
    S.connMessage = '';
  }
}

function switchTo(key) {
  const c = S.convs.get(key);
  if (!c) return;
  S.current = key;
  c.unread = 0;
  c.mentions = 0;
  closePickers();
  render();
  // A conversation too short to scroll cannot be scrolled up: fetch
  // what came before, once, so that it shows where it starts.
  const box = $('messages');
  if (c.msgs.length && !c.atStart && box.scrollHeight <= box.clientHeight && S.loggedIn) loadHistory(c, 50);
  if (S.panel === 'files') listFiles();
  refreshMembers();
  if (hooks.shown) hooks.shown(c);
}

function showPanel(which) {
  S.panel = S.panel === which ? '' : which;
  $('members').hidden = S.panel !== 'members';
  $('files').hidden = S.panel !== 'files';
  $('toggle-members').setAttribute('aria-pressed', String(S.panel === 'members'));
  $('toggle-files').setAttribute('aria-pressed', String(S.panel === 'files'));
  $('app').dataset.panel = S.panel;
  if (S.panel === 'files') listFiles();
  if (S.panel === 'members') refreshMembers();
}

function closeDrawer() {
  $('app').classList.remove('drawer-open');
  $('toggle-convs').setAttribute('aria-expanded', 'false');
}

function showLogin(error) {
  $('login').hidden = false;
  $('app').hidden = true;
  $('login-error').textContent = error || '';
  $('login-name').value = S.me || '';
  $('login-submit').disabled = false;
  (S.me ? $('login-password') : $('login-name')).focus();
}

function showApp() {
  $('login').hidden = true;
  $('app').hidden = false;
}

function logout() {
  S.connState = 'stopped';
  store.removeItem('parley.token');
  if (S.ws && S.ws.readyState === WebSocket.OPEN) S.ws.send(JSON.stringify({ type: 'quit', id: S.nextId++ }));
  F.abort && F.abort.abort();
  location.reload();
}

// ---------------------------------------------------------------------
// Emoji and sticker pickers

function togglePicker(id, open) {
  const p = $(id);
  const show = open ?? p.hidden;
  closePickers();
  p.hidden = !show;
  const btn = id === 'emoji-picker' ? $('emoji-button') : $('sticker-button');
  btn.setAttribute('aria-expanded', String(show));
  if (show && id === 'emoji-picker') { renderEmojiGrid(); $('emoji-search').focus(); }
  if (show && id === 'sticker-picker') { const b = p.querySelector('button'); b && b.focus(); }
}

function closePickers() {
  for (const id of ['emoji-picker', 'sticker-picker']) $(id).hidden = true;
  $('emoji-button').setAttribute('aria-expanded', 'false');
  $('sticker-button').setAttribute('aria-expanded', 'false');
}

function renderEmojiGrid() {
  if (!S.emoji) return;
  const q = fold($('emoji-search').value.replace(/:/g, '').trim());
  const pre = [], mid = [];
  for (const code of S.emojiCodes) {
    const lc = code.toLowerCase();
    if (!q || lc.startsWith(q)) pre.push(code); else if (lc.includes(q)) mid.push(code);
    if (pre.length >= 120) break;
  }
  const shown = [...pre, ...mid].slice(0, 120);
  $('emoji-grid').replaceChildren(...shown.map((code) => el('button', {
    type: 'button', class: 'emoji', title: ':' + code + ':', 'aria-label': code.replace(/_/g, ' '),
    onclick: () => { insertAtCaret(S.emoji[code]); closePickers(); $('input').focus(); },
  }, S.emoji[code])));
}

function insertAtCaret(s) {
  const t = $('input');
  const a = t.selectionStart ?? t.value.length;
  const b = t.selectionEnd ?? a;
  t.value = t.value.slice(0, a) + s + t.value.slice(b);
  t.setSelectionRange(a + s.length, a + s.length);
  autosize();
}

function renderStickers() {
  $('sticker-grid').replaceChildren(...S.stickers.map((name) => el('button', {
    type: 'button', class: 'sticker', 'aria-label': 'Send the ' + name + ' sticker',
    onclick: () => { closePickers(); postSticker(S.convs.get(S.current), name).catch((e) => notice(S.convs.get(S.current), e.message)); $('input').focus(); },
  }, el('img', { src: '/stickers/' + name + '.png', alt: '' }), el('span', {}, name))));
}

// ---------------------------------------------------------------------
// Notifications

function notifyMessage(c, m) {
  if (!document.hidden || !S.notify || typeof Notification === 'undefined' || Notification.permission !== 'granted') return;
  const title = c.kind === 'dm' ? m.from + ' (private)' : m.from + ' in #' + c.name;
  const body = m.text || (m.file ? 'sent ' + m.file.name : '');
  try {
    const n = new Notification(title, { body, tag: c.key });
    n.onclick = () => { window.focus(); switchTo(c.key); n.close(); };
  } catch (e) { /* not allowed here */ }
}

function renderNotifyButton() {
  const b = $('notify');
  const can = typeof Notification !== 'undefined';
  b.hidden = !can;
  if (!can) return;
  S.notify = Notification.permission === 'granted' && store.getItem('parley.notify') !== 'off';
  b.setAttribute('aria-pressed', String(S.notify));
  b.title = S.notify ? 'Notifications are on for mentions and private messages while this tab is hidden' : 'Turn on notifications for mentions and private messages';
}

async function toggleNotify() {
  if (S.notify) { store.setItem('parley.notify', 'off'); renderNotifyButton(); return; }
  store.removeItem('parley.notify');
  if (Notification.permission !== 'granted') await Notification.requestPermission();
  renderNotifyButton();
}

// ---------------------------------------------------------------------
// Help

function showHelp() {
  const body = $('help-body');
  body.replaceChildren(
    el('h3', {}, 'Commands'),
    el('ul', { class: 'help-list' }, ...commands.map((c) => el('li', {}, el('code', {}, '/' + c.name + (c.args ? ' ' + c.args : '')), ' ' + c.help))),
    el('p', {}, ':shortcode: becomes an emoji when sent (:tada: → 🎉). A line that starts with // sends a line that starts with /.'),
    el('h3', {}, 'Keys'),
    el('ul', { class: 'help-list' },
      el('li', {}, el('kbd', {}, 'Enter'), ' send; ', el('kbd', {}, 'Shift+Enter'), ' new line'),
      el('li', {}, el('kbd', {}, 'Tab'), ' complete a command and its argument (a room, a name, a file or message id), @name, #room or :emoji:'),
      el('li', {}, el('kbd', {}, 'Alt+1'), '…', el('kbd', {}, 'Alt+9'), ' go to a conversation; ', el('kbd', {}, 'Alt+↑'), ' ', el('kbd', {}, 'Alt+↓'), ' previous and next'),
      el('li', {}, el('kbd', {}, '↑'), ' in an empty message box: edit your last message here (/edit); without one, and ', el('kbd', {}, '↓'), ', what you typed before'),
      el('li', {}, el('kbd', {}, 'Ctrl+V'), ' paste an image (a screenshot) to upload it'),
      el('li', {}, el('kbd', {}, 'Escape'), ' close a picker or menu')));
  $('help-dialog').showModal();
}

// ---------------------------------------------------------------------
// Wiring

function moveConv(delta) {
  const list = sortedConvs();
  const i = list.findIndex((c) => c.key === S.current);
  const next = list[(i + delta + list.length) % list.length];
  if (next) switchTo(next.key);
}

function wire() {
  $('login-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const name = $('login-name').value.trim();
    const pw = $('login-password').value;
    if (!name || !pw) { $('login-error').textContent = 'Type a name and a password.'; return; }
    if (S.me && fold(S.me) !== fold(name)) {
      // Another name: a new session, not a continuation.
      S.convs.clear(); S.lastSeen = 0; S.resumed = false; S.queue = []; S.outbox = [];
      getConv('room', 'lobby');
    }
    S.me = name;
    S.password = pw;
    S.token = '';
    $('login-password').value = '';
    $('login-error').textContent = '';
    $('login-submit').disabled = true;
    S.connState = 'offline';
    connect();
  });
  $('compose').addEventListener('submit', (e) => { e.preventDefault(); submitInput(); });
  const input = $('input');
  input.addEventListener('input', () => { autosize(); updateCompletions(); });
  input.addEventListener('keydown', (e) => {
    if (comp.items.length) {
      if (e.key === 'Tab') { e.preventDefault(); acceptCompletion(); return; }
      if (e.key === 'ArrowDown') { e.preventDefault(); comp.sel = (comp.sel + 1) % comp.items.length; renderCompletions(); return; }
      if (e.key === 'ArrowUp') { e.preventDefault(); comp.sel = (comp.sel - 1 + comp.items.length) % comp.items.length; renderCompletions(); return; }
      if (e.key === 'Escape') { comp = { items: [], sel: 0 }; renderCompletions(); return; }
    }
    if (e.key === 'Enter' && !e.shiftKey && !e.altKey && !e.isComposing) { e.preventDefault(); submitInput(); return; }
    if ((e.key === 'ArrowUp' || e.key === 'ArrowDown') && !e.altKey && (input.value === '' || historyAt >= 0) && inputHistory.length) {
      e.preventDefault();
      historyAt = Math.max(-1, Math.min(inputHistory.length - 1, historyAt + (e.key === 'ArrowUp' ? 1 : -1)));
      input.value = historyAt < 0 ? '' : inputHistory[historyAt];
      autosize();
    }
  });
  input.addEventListener('paste', (e) => {
    const files = [...(e.clipboardData?.items || [])].filter((i) => i.kind === 'file').map((i) => i.getAsFile()).filter(Boolean);
    if (files.length) { e.preventDefault(); uploadFiles(files); }
  });
  document.addEventListener('keydown', (e) => {
    if ($('app').hidden) return;
    if (e.altKey && /^[1-9]$/.test(e.key)) {
      const c = sortedConvs()[Number(e.key) - 1];
      if (c) { e.preventDefault(); switchTo(c.key); $('input').focus(); }
    } else if (e.altKey && (e.key === 'ArrowUp' || e.key === 'ArrowDown')) {
      e.preventDefault(); moveConv(e.key === 'ArrowUp' ? -1 : 1);
    } else if (e.key === 'Escape') {
      closePickers(); closeDrawer();
      for (const m of document.querySelectorAll('.menu')) m.hidden = true;
    }
  });
  const main = $('main');
  main.addEventListener('dragover', (e) => { if ([...e.dataTransfer.types].includes('Files')) { e.preventDefault(); $('drop-hint').hidden = false; } });
  main.addEventListener('dragleave', (e) => { if (!main.contains(e.relatedTarget)) $('drop-hint').hidden = true; });
  main.addEventListener('drop', (e) => { e.preventDefault(); $('drop-hint').hidden = true; if (e.dataTransfer.files.length) uploadFiles(e.dataTransfer.files); });
  $('attach').addEventListener('click', () => $('file-input').click());
  $('file-input').addEventListener('change', (e) => { uploadFiles(e.target.files, S.overwriteNext); S.overwriteNext = false; e.target.value = ''; });
  $('messages').addEventListener('scroll', () => {
    const box = $('messages');
    const c = S.convs.get(S.current);
    if (c && box.scrollTop < 60 && !c.atStart && !c.loadingHistory && S.loggedIn) loadHistory(c, 50);
  });
  $('join-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const v = stripRoom($('join-name').value.trim());
    if (!v) return;
    $('join-name').value = '';
    joinRoom(v).catch((err) => notice(S.convs.get(S.current), 'Could not join ' + v + ': ' + err.message));
    closeDrawer();
  });
  $('leave-room').addEventListener('click', () => { const c = S.convs.get(S.current); runCommand(c, '/leave ' + c.name); });
  $('toggle-members').addEventListener('click', () => showPanel('members'));
  $('toggle-files').addEventListener('click', () => showPanel('files'));
  $('close-members').addEventListener('click', () => showPanel('members'));
  $('close-files').addEventListener('click', () => showPanel('files'));
  $('files-up').addEventListener('click', () => { F.path = parentOf(F.path); listFiles(); });
  $('toggle-convs').addEventListener('click', () => {
    const open = !$('app').classList.contains('drawer-open');
    $('app').classList.toggle('drawer-open', open);
    $('toggle-convs').setAttribute('aria-expanded', String(open));
  });
  $('reconnect-now').addEventListener('click', reconnectNow);
  $('logout').addEventListener('click', logout);
  $('logout-narrow').addEventListener('click', logout);
  $('help-narrow').addEventListener('click', () => { closeDrawer(); showHelp(); });
  $('notify').addEventListener('click', toggleNotify);
  $('help').addEventListener('click', showHelp);
  $('help-close').addEventListener('click', () => $('help-dialog').close());
  $('emoji-button').addEventListener('click', () => togglePicker('emoji-picker'));
  $('sticker-button').addEventListener('click', () => togglePicker('sticker-picker'));
  $('emoji-search').addEventListener('input', renderEmojiGrid);
  $('emoji-search').addEventListener('keydown', (e) => {
    if (e.key === 'Enter') { e.preventDefault(); const b = $('emoji-grid').querySelector('button'); b && b.click(); }
    if (e.key === 'Escape') { closePickers(); $('input').focus(); }
  });
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) {
      const c = S.convs.get(S.current);
      if (c) { c.unread = 0; c.mentions = 0; renderConvList(); renderTitle(); }
    }
  });
}

async function loadTables() {
  try {
    const res = await fetch('emoji.json');
    S.emoji = await res.json();
    S.emojiCodes = Object.keys(S.emoji).sort((a, b) => a.length - b.length || (a < b ? -1 : 1));
  } catch (e) { console.warn('emoji table', e); }
  try {
    const res = await fetch('/stickers/');
    S.stickers = await res.json();
    renderStickers();
  } catch (e) { console.warn('stickers', e); }
}

function start() {
  getConv('room', 'lobby');
  wire();
  renderNotifyButton();
  loadTables();
  if (S.me && S.token) {
    // A reload of this tab: log in again with the token (a fresh
    // login, with history).
    showApp();
    $('me-name').textContent = S.me;
    render();
    connect();
  } else {
    showLogin('');
  }
}

start();

// What features.js uses.
export {
  S, el, fold, onEvent, request, notify, convKey, getConv, convOfMessage, convTarget, notice, switchTo, render,
  renderMessages, rerenderMessage, renderConvList, renderHeader, renderMembers, refreshMembers, renderTitle, commands,
  expandEmoji, sendMessage, togglePicker, closePickers, autosize,
};
