// Parley's web client: the messaging features of shared/PROTOCOL.md
// beyond sending and recalling, as the terminal client has them: edits,
// replies with quotes, reactions, read positions, search with /jump and
// /context, nicks, /me actions, room topics and typing indicators. Hand-written, no third-party code.
//
// It joins app.js through the hooks app.js exports, and through
// onEvent, to which it adds the new event types. Like app.js, it puts
// every string from the server in the page as text, never as HTML.

import {
  S, el, fold, hooks, onEvent, request, notify, convKey, getConv, convOfMessage, convTarget, notice, switchTo, render,
  renderMessages, rerenderMessage, renderConvList, renderHeader, renderMembers, refreshMembers, renderTitle, commands,
  expandEmoji, sendMessage, togglePicker, closePickers, autosize,
} from './app.js';

const $ = (id) => document.getElementById(id);

// nicks holds what the server said about people's nicks (who replies and
// nick events): folded name -> nick, or '' for "shown by the login name".
// Someone not in it is shown as their message says (its nick when sent).
const nicks = new Map();

function nickOf(name) {
  const k = fold(name);
  if (k === fold(S.me)) return S.nick || '';
  return nicks.has(k) ? nicks.get(k) : undefined;
}

// shownAs is how a message's sender is shown: the nick they have now if
// the client knows it, else the one the message carries, else the name.
function shownAs(m) {
  const n = nickOf(m.from);
  if (n !== undefined) return n || m.from;
  return m.nick || m.from;
}

hooks.name = (name) => {
  const n = nickOf(name);
  return n && fold(n) !== fold(name) ? n + ' (' + name + ')' : name;
};

// firstLine is the first line of text that is not blank, as the server
// quotes it.
function firstLine(text) {
  return (text || '').split('\n').find((l) => l.trim()) || '';
}

const parseId = (s) => {
  const n = Number(String(s || '').replace(/^#/, ''));
  return Number.isInteger(n) && n > 0 ? n : 0;
};

// findMessage looks for a message id in every conversation.
function findMessage(id) {
  for (const c of S.convs.values()) {
    const m = c.byId.get(id);
    if (m) return { c, m };
  }
  return null;
}

function current() { return S.convs.get(S.current); }

// ---------------------------------------------------------------------
// Messages: how they look

hooks.message = (c, m, row, items) => {
  const mine = fold(m.from) === fold(S.me);
  const head = row.querySelector('.head');
  const from = head.querySelector('.from');
  from.textContent = shownAs(m);
  if (shownAs(m) !== m.from) from.title = m.from;
  row.setAttribute('aria-label', 'Message from ' + shownAs(m));
  head.querySelector('.time').after(el('span', { class: 'msg-id muted', title: 'message id, for /edit, /reply and /react' }, '#' + m.id));
  const body = row.querySelector('.body');
  if (m.reply_to && m.quote) {
    const q = m.quote;
    const what = q.recalled ? 'message recalled' : (q.text || (q.kind === 'file' ? 'a file' : ''));
    body.before(el('button', {
      type: 'button', class: 'quote', title: 'Show the message this answers',
      'aria-label': 'In reply to ' + (q.from || '') + ': ' + what + '. Show it.',
      onclick: () => openAt(c, m.reply_to),
    }, '↪ ', el('span', { class: 'quote-from' }, (q.from ? shownAs({ from: q.from }) : '') + ': '), el('span', { class: 'quote-text' }, what)));
  }
  if (m.recalled) return;
  const text = body.querySelector('.text');
  if (m.kind === 'action' && text) {
    row.classList.add('action');
    text.prepend('* ' + shownAs(m) + ' ');
  }
  if (m.edited) {
    (text || body).append(' ', el('span', { class: 'edited muted' }, '(edited)'));
  }
  const reactions = reactionsOf(m);
  if (reactions.length) {
    body.after(el('div', { class: 'reactions', role: 'group', 'aria-label': 'Reactions' }, ...reactions.map((r) => {
      const minePut = r.names.some((n) => fold(n) === fold(S.me));
      const who = r.names.map((n) => shownAs({ from: n })).join(', ') + (r.count > r.names.length ? ' and ' + (r.count - r.names.length) + ' more' : '');
      return el('button', {
        type: 'button', class: 'reaction' + (minePut ? ' mine' : ''), title: who, 'aria-pressed': String(minePut),
        'aria-label': r.emoji + ' ' + r.count + ', from ' + who + (minePut ? '; click to take yours back' : '; click to add yours'),
        onclick: () => react(m.id, r.emoji),
      }, r.emoji + ' ' + r.count);
    })));
  }
  // The menu: reply and react on every message, edit on one's own text.
  const close = () => { const menu = row.querySelector('.menu'); if (menu) menu.hidden = true; };
  items.push(el('button', { type: 'button', role: 'menuitem', onclick: () => { close(); startReply(m); } }, 'Reply'));
  items.push(el('button', { type: 'button', role: 'menuitem', onclick: () => { close(); pickReaction(m); } }, 'React'));
  if (mine && m.kind !== 'file' && m.text !== undefined) {
    items.push(el('button', { type: 'button', role: 'menuitem', onclick: () => { close(); startEdit(m); } }, 'Edit'));
  }
};

// reactionsOf lists a message's reactions as {emoji, count, names}. A
// message from history brings them as a list; live react events change
// the same list.
function reactionsOf(m) {
  return (m.reactions || []).filter((r) => r.count > 0);
}

function applyReact(m, f) {
  if (!m.reactions) m.reactions = [];
  let r = m.reactions.find((x) => x.emoji === f.emoji);
  if (!r) { r = { emoji: f.emoji, count: 0, names: [] }; m.reactions.push(r); }
  r.names = r.names || [];
  const i = r.names.findIndex((n) => fold(n) === fold(f.from));
  if (f.on && i < 0) { r.names.push(f.from); r.count++; }
  if (!f.on && i >= 0) { r.names.splice(i, 1); r.count--; }
  if (r.count <= 0) m.reactions.splice(m.reactions.indexOf(r), 1);
}

// ---------------------------------------------------------------------
// Events

const seen = (f) => { if (!f.history) S.lastSeen = Math.max(S.lastSeen, f.id || 0); };

const addMessage = onEvent.message;
onEvent.message = (f) => {
  if (f.search) { search.results.push(f); return; }
  const c = convOfMessage(f);
  const unread = c.unread;
  addMessage(f);
  if (!f.history) stoppedTyping(c.key, f.from);
  // In a private conversation every message is for the user: the
  // server counts each as a mention, and so does the badge.
  if (c.kind === 'dm' && c.unread > unread) { c.mentions = Math.max(c.mentions, c.unread); renderConvList(); }
  if (!f.history && c.key === S.current) readSoon(c);
};

const recallMessage = onEvent.recall;
onEvent.recall = (f) => {
  recallMessage(f);
  const c = convOfMessage(f);
  const m = c.byId.get(f.msg);
  if (m) { delete m.reactions; delete m.edited; rerenderMessage(c, m); }
  for (const r of c.msgs) {
    if (r.reply_to === f.msg && r.quote) { r.quote = { from: r.quote.from, recalled: true }; rerenderMessage(c, r); }
  }
};

onEvent.edit = (f) => {
  seen(f);
  const c = convOfMessage(f);
  const m = c.byId.get(f.msg);
  if (m && !m.recalled) { m.text = f.text; m.edited = true; rerenderMessage(c, m); }
  for (const r of c.msgs) {
    if (r.reply_to === f.msg && r.quote && !r.quote.recalled) { r.quote = { ...r.quote, text: firstLine(f.text) }; rerenderMessage(c, r); }
  }
};

onEvent.react = (f) => {
  seen(f);
  const c = convOfMessage(f);
  const m = c.byId.get(f.msg);
  if (m && !m.recalled) { applyReact(m, f); rerenderMessage(c, m); }
};

onEvent.nick = (f) => {
  if (fold(f.name) === fold(S.me)) S.nick = f.nick || '';
  else nicks.set(fold(f.name), f.nick || '');
  renderMessages(true);
  renderMembers();
  // A private conversation is listed and titled by the nick, with the
  // login name beside it.
  renderConvList();
  renderHeader();
};

// A mode event: a room's settings or a member's roles changed.
onEvent.mode = (f) => {
  const c = getConv('room', f.room, false);
  if (!c) return;
  const m = f.name && c.members.get(fold(f.name));
  if (m) {
    if (f.operator != null) m.operator = f.operator;
    if (f.voice != null) m.voice = f.voice;
  }
  notice(c, describeMode(f));
  renderMembers();
  // A role of one's own (an operator is sent the banned list) or of a
  // member not listed yet: ask the server for the list as it is now.
  if (f.name && c.key === S.current && (!m || fold(f.name) === fold(S.me))) refreshMembers();
};

// describeMode says what a mode event changed, as the terminal client
// does: "ann made bob an operator of #Go".
function describeMode(f) {
  const room = '#' + f.room, parts = [];
  if (f.secret != null) parts.push(f.secret ? 'made ' + room + ' secret (listed to its members only)' : 'made ' + room + ' listed to everyone');
  if (f.topic_lock != null) parts.push(f.topic_lock ? 'locked the topic of ' + room + ' (owner and operators only)' : 'let every member of ' + room + ' set its topic');
  if (f.operator != null) parts.push(f.operator ? 'made ' + f.name + ' an operator of ' + room : 'took operator from ' + f.name + ' in ' + room);
  if (f.voice != null) parts.push(f.voice ? 'gave ' + f.name + ' voice in ' + room : 'took voice from ' + f.name + ' in ' + room);
  return (f.by || 'someone') + ' ' + (parts.length ? parts.join('; ') : 'changed the settings of ' + room);
}

onEvent.topic = (f) => {
  const c = getConv('room', f.room, false);
  if (!c) return;
  c.topic = f.text || '';
  c.topicBy = f.by || '';
  notice(c, f.text ? (f.by || 'The owner') + ' set the topic: ' + f.text : (f.by || 'The owner') + ' cleared the topic.');
  render();
};

// ---------------------------------------------------------------------
// Typing

// As in the terminal client: the page says the user is typing at most
// every typingEvery while they type text (not a command) in a
// conversation, and shows who else is for typingShown after the last
// word of it, or until their message comes. Nothing of it is stored.
const typingEvery = 3000;
const typingShown = 5000;

// typists: conversation key -> folded name -> {name, until}.
const typists = new Map();
let typingTimer = 0;

$('input').addEventListener('input', () => {
  const v = $('input').value;
  const c = current();
  if (!c || !S.loggedIn || !v.trim() || (v.startsWith('/') && !v.startsWith('//'))) return;
  const now = Date.now();
  if (now - (c.typedAt || 0) < typingEvery) return;
  if (notify({ type: 'typing', ...convTarget(c) })) c.typedAt = now;
});

onEvent.typing = (f) => {
  if (!f.from || fold(f.from) === fold(S.me)) return;
  // The conversation's key, without making a conversation of it: one
  // that has no message yet gets its own when the message comes.
  const key = f.to ? convKey('dm', f.from) : convKey('room', f.room || 'lobby');
  if (!typists.has(key)) typists.set(key, new Map());
  typists.get(key).set(fold(f.from), { name: shownAs({ from: f.from, nick: f.nick }), until: Date.now() + typingShown });
  renderTyping();
};

function stoppedTyping(key, name) {
  const who = typists.get(key);
  if (who && who.delete(fold(name))) {
    if (!who.size) typists.delete(key);
    renderTyping();
  }
}

// typingText is "bob is typing…" for conversation key, or ''.
function typingText(key) {
  const names = [...(typists.get(key) || new Map()).values()].map((t) => t.name).sort();
  if (!names.length) return '';
  if (names.length === 1) return names[0] + ' is typing…';
  if (names.length <= 3) return names.join(', ') + ' are typing…';
  return names.length + ' people are typing…';
}

// renderTyping forgets the notes that have expired, shows who is typing
// in the conversation on screen (as text), and wakes when the next note
// expires.
function renderTyping() {
  const now = Date.now();
  let next = Infinity;
  for (const [key, who] of typists) {
    for (const [n, t] of who) {
      if (t.until <= now) who.delete(n);
      else next = Math.min(next, t.until);
    }
    if (!who.size) typists.delete(key);
  }
  const line = $('typing');
  const text = typingText(S.current);
  if (line.textContent !== text) line.textContent = text;
  clearTimeout(typingTimer);
  typingTimer = next < Infinity ? setTimeout(renderTyping, next - now + 20) : 0;
}

// ---------------------------------------------------------------------
// Login, topics and read positions

hooks.login = (ok) => {
  S.nick = ok.nick || '';
  // The server's counts cover everything up to the reply, what the
  // catch-up brought included: they replace the client's own.
  for (const r of ok.rooms || []) {
    if (!r.joined) continue;
    const c = getConv('room', r.name);
    c.unread = r.unread || 0;
    c.mentions = r.mentions || 0;
  }
  for (const p of ok.private || []) {
    const c = getConv('dm', p.name);
    c.unread = p.unread || 0;
    c.mentions = p.mentions || 0;
    c.last = p.last || 0;
    S.presence.set(fold(p.name), !!p.online);
    S.names.set(fold(p.name), p.name);
  }
  // The login reply names no topics; the rooms list has them.
  request({ type: 'rooms' }).then((r) => { takeTopics(r.rooms); renderHeaderTopic(current()); }, () => {});
  const c = current();
  if (c) readSoon(c, true);
};

function takeTopics(rooms) {
  for (const r of rooms || []) {
    const c = getConv('room', r.name, false);
    if (c) c.topic = r.topic || '';
  }
}

hooks.joined = (c, ok) => { c.topic = ok.topic || ''; c.topicBy = ok.topic_by || ''; };

hooks.header = (c) => renderHeaderTopic(c);

function renderHeaderTopic(c) {
  if (!c) return;
  let t = $('conv-topic');
  if (!t) {
    t = el('span', { id: 'conv-topic', class: 'topic' });
    $('conv-sub').after(t);
  }
  t.textContent = c.kind === 'room' && c.topic ? c.topic : '';
  t.title = c.topic ? 'Topic' + (c.topicBy ? ', set by ' + c.topicBy : '') + ': ' + c.topic : '';
  t.hidden = !t.textContent;
  // On a phone the top bar has no room for it: a line above the
  // messages shows it there (style.css shows one or the other).
  let line = $('topic-line');
  if (!line) {
    line = el('p', { id: 'topic-line', class: 'topic-line', 'aria-hidden': 'true' });
    $('messages').before(line);
  }
  line.textContent = t.textContent;
  line.hidden = t.hidden;
}

hooks.who = (c, ok) => {
  for (const m of ok.members || []) {
    if (fold(m.name) === fold(S.me)) S.nick = m.nick || '';
    else nicks.set(fold(m.name), m.nick || '');
  }
};

hooks.shown = async (c) => {
  renderTyping();
  // A private conversation known only from the login reply's list has
  // no messages here yet: show its newest, then mark them read.
  if (c.kind === 'dm' && !c.msgs.length && !c.atStart && S.loggedIn) {
    await page(c, 20);
    if (S.current === c.key) renderMessages(false);
  }
  readSoon(c, true);
};

document.addEventListener('visibilitychange', () => { const c = current(); if (c && !document.hidden) readSoon(c, true); });

// readSoon moves the read position of c to its newest message while it
// is on screen: at once when it is shown, and a second after new
// messages arrive there (so a busy room sends one read a second).
function readSoon(c, now) {
  if (document.hidden || c.key !== S.current || !S.loggedIn) return;
  if (now) { clearTimeout(c.readTimer); c.readTimer = 0; sendRead(c); return; }
  if (!c.readTimer) c.readTimer = setTimeout(() => { c.readTimer = 0; if (c.key === S.current && !document.hidden) sendRead(c); }, 1000);
}

function sendRead(c) {
  let newest = 0;
  for (const m of c.msgs) newest = Math.max(newest, m.id);
  c.unread = 0;
  c.mentions = 0;
  renderConvList();
  renderTitle();
  if (!newest || newest <= (c.readSent || 0)) return;
  c.readSent = newest;
  request({ type: 'read', ...convTarget(c), msg: newest }).then((ok) => {
    tookRead(c, ok.msg || newest);
  }, (e) => { c.readSent = 0; console.warn('read', e); });
}

function tookRead(c, at) {
  c.readAt = Math.max(c.readAt || 0, at);
  $('messages').dataset.read = c.key + ' ' + c.readAt;
}

// readUpTo is /read ID: it moves the read position of c to message id,
// as the server has it for every device, and counts what is unread
// after it. A position never goes back: the server's reply says where
// it is now.
async function readUpTo(c, id) {
  clearTimeout(c.readTimer);
  c.readTimer = 0;
  const ok = await request({ type: 'read', ...convTarget(c), msg: id });
  const at = ok.msg || id;
  c.readSent = Math.max(c.readSent || 0, at);
  tookRead(c, at);
  const after = c.msgs.filter((m) => m.id > at && fold(m.from) !== fold(S.me) && !m.recalled);
  c.unread = after.length;
  c.mentions = c.kind === 'dm' ? after.length : after.filter((m) => m.mention).length;
  renderConvList();
  renderTitle();
  notice(c, at > id ? 'This conversation was read up to #' + at + ' already; a read position never goes back.' : 'Marked read up to #' + at + '.');
}

// ---------------------------------------------------------------------
// Opening a conversation at a message

// page fetches the page of c's history before its oldest message shown
// (repeated messages are shown once). It says whether that worked.
async function page(c, limit) {
  c.loadingHistory = true;
  try {
    const ok = await request({ type: 'history', ...convTarget(c), before: c.oldest || undefined, limit });
    if (!ok.before || (ok.limit || 0) < limit) c.atStart = true;
    if (ok.before) c.oldest = Math.min(c.oldest || ok.before, ok.before);
    return true;
  } catch (e) {
    notice(c, 'Could not load history: ' + e.message);
    return false;
  } finally {
    c.loadingHistory = false;
  }
}

// openAt shows conversation c at message id, paging its history back
// until the message is there (history pages join the conversation as
// any other, so that it stays whole from there to the newest), and
// then until it has the before messages before it (or the start).
async function openAt(c, id, before = 0) {
  if (S.current !== c.key) switchTo(c.key);
  for (let pages = 0; !c.byId.has(id) && !c.atStart && pages < 50; pages++) {
    if (!await page(c, S.limits.history || 200)) break;
  }
  if (c.byId.has(id)) {
    const shownBefore = () => c.msgs.filter((m) => m.id < id).length;
    for (let pages = 0; shownBefore() < before && !c.atStart && pages < 5; pages++) {
      if (!await page(c, Math.min(before - shownBefore(), S.limits.history || 200))) break;
    }
  }
  if (S.current !== c.key) return;
  renderMessages(true);
  const row = $('messages').querySelector('[data-id="' + id + '"]');
  if (!row) { notice(c, 'Message #' + id + ' is not in this conversation any more.'); return; }
  if (before) {
    // With its context, the message is shown low, under what came
    // before, clear of the bottom edge.
    row.scrollIntoView({ block: 'end' });
    $('messages').scrollTop += 24;
  } else {
    row.scrollIntoView({ block: 'center' });
  }
  row.classList.remove('found');
  void row.offsetWidth; // restart the highlight's animation
  row.classList.add('found');
  // Keyboard and screen reader users land on it too.
  row.tabIndex = -1;
  row.focus({ preventScroll: true });
}

// ---------------------------------------------------------------------
// Edit, reply, react

function putInInput(text) {
  const input = $('input');
  input.value = text;
  input.focus();
  input.setSelectionRange(text.length, text.length);
  autosize();
}

function startEdit(m) { putInInput('/edit ' + m.id + ' ' + (m.text || '')); }
function startReply(m) { putInInput('/reply ' + m.id + ' '); }

// ↑ in an empty message box edits one's last message in the
// conversation, as in the terminal client. Without one, ↑ goes on to
// the input history.
document.addEventListener('keydown', (e) => {
  const input = $('input');
  if (e.target !== input || e.key !== 'ArrowUp' || e.altKey || e.shiftKey || e.ctrlKey || input.value.trim() !== '') return;
  const c = current();
  if (!c) return;
  for (let i = c.msgs.length - 1; i >= 0; i--) {
    const m = c.msgs[i];
    if (fold(m.from) === fold(S.me) && !m.recalled && m.kind !== 'file' && m.text !== undefined) {
      e.preventDefault();
      e.stopImmediatePropagation();
      startEdit(m);
      return;
    }
  }
}, true);

let reactTo = 0;

function pickReaction(m) {
  togglePicker('emoji-picker', true);
  reactTo = m.id;
}

// A pick in the emoji picker opened from a message's menu reacts with
// it instead of typing it.
$('emoji-grid').addEventListener('click', (e) => {
  const b = e.target.closest('button.emoji');
  if (!reactTo || !b) return;
  e.stopPropagation();
  const id = reactTo;
  reactTo = 0;
  closePickers();
  react(id, b.textContent);
}, true);
$('emoji-button').addEventListener('click', () => { reactTo = 0; }, true);
$('emoji-search').addEventListener('keydown', (e) => { if (e.key === 'Escape') reactTo = 0; });

async function react(id, emoji) {
  try {
    await request({ type: 'react', msg: id, emoji });
  } catch (e) {
    notice(current(), 'Could not react: ' + (e.message || e.code));
  }
}

// emojiOf reads :shortcode: or an emoji as typed.
function emojiOf(s) {
  const m = /^:([^:\s]+):$/.exec(s);
  if (m) return (S.emoji && S.emoji[m[1]]) || '';
  return s;
}

// ---------------------------------------------------------------------
// Search

// results gathers the matches of the search under way; hits maps the
// ids of the last search's matches to their conversations, for /jump
// and /context.
const search = { results: [], hits: new Map(), dialog: null };

function searchDialog() {
  if (search.dialog) return search.dialog;
  const input = el('input', { id: 'search-text', type: 'search', placeholder: 'words to find', autocomplete: 'off', maxlength: '500' });
  const where = el('select', { id: 'search-where', 'aria-label': 'Where to search' });
  const status = el('p', { id: 'search-status', class: 'muted', role: 'status' });
  const list = el('ul', { id: 'search-results', class: 'search-results' });
  const form = el('form', { class: 'search-form', role: 'search' },
    el('label', { for: 'search-text', class: 'visually-hidden' }, 'Search messages'),
    input, where, el('button', { type: 'submit', class: 'primary' }, 'Search'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const opt = where.value;
    const target = opt === '' ? {} : opt.startsWith('@') ? { to: opt.slice(1) } : { room: opt.slice(1) };
    runSearch(input.value, target);
  });
  const d = el('dialog', { id: 'search-dialog', class: 'search-dialog', 'aria-labelledby': 'search-title' },
    el('h2', { id: 'search-title' }, 'Search messages',
      el('button', { type: 'button', class: 'icon close', 'aria-label': 'Close the search', onclick: () => d.close() }, '×')),
    form, status, list);
  document.body.append(d);
  search.dialog = d;
  return d;
}

function openSearch(text, target) {
  const d = searchDialog();
  const where = $('search-where');
  const convs = [...S.convs.values()].filter((c) => c.kind === 'dm' || c.joined);
  where.replaceChildren(el('option', { value: '' }, 'everywhere'),
    ...convs.map((c) => el('option', { value: (c.kind === 'room' ? '#' : '@') + c.name }, 'in ' + (c.kind === 'room' ? '#' : '@') + c.name)));
  const want = target && target.to ? '@' + target.to : target && target.room ? '#' + target.room : '';
  // A conversation typed after "in" that is not in the list is still
  // searched (the server checks it); the list then says everywhere.
  where.value = [...where.options].some((o) => fold(o.value) === fold(want)) ? [...where.options].find((o) => fold(o.value) === fold(want)).value : '';
  if (!d.open) d.showModal();
  if (text !== undefined) { $('search-text').value = text; runSearch(text, target || {}); }
  $('search-text').focus();
}

async function runSearch(text, target) {
  const status = $('search-status');
  const list = $('search-results');
  if (!text.trim()) { status.textContent = 'Type the words to find.'; return; }
  status.textContent = 'Searching…';
  list.replaceChildren();
  search.results = [];
  try {
    const ok = await request({ type: 'search', text, ...target });
    const found = search.results;
    search.results = [];
    search.hits = new Map(found.map((f) => [f.id, convOfMessage(f)]));
    status.textContent = found.length ? (ok.limit || found.length) + ' found, newest first' + (found.length >= 20 ? ' (the newest 20)' : '') + '. Choose one to see it where it was said (or /jump ID, /context ID).' : 'Nothing found.';
    list.replaceChildren(...found.map((f) => {
      const c = convOfMessage(f);
      const where = (c.kind === 'room' ? '#' : '@') + c.name;
      const t = new Date(f.time);
      return el('li', {}, el('button', {
        type: 'button', class: 'result',
        onclick: () => { search.dialog.close(); openAt(c, f.id); },
      }, el('span', { class: 'result-head muted' }, where + ' · ' + shownAs(f) + ' · ' + t.toLocaleString() + ' · #' + f.id),
      el('span', { class: 'result-text' }, (f.kind === 'action' ? '* ' + shownAs(f) + ' ' : '') + (f.text || (f.file ? f.file.name : '')))));
    }));
  } catch (e) {
    search.results = [];
    status.textContent = 'Could not search: ' + (e.message || e.code);
  }
}

// The search button sits with the other tools in the header.
$('help').before(el('button', { id: 'search-button', class: 'icon', type: 'button', 'aria-label': 'Search messages', onclick: () => openSearch() }, '🔍'));
// On a phone it is in the conversation drawer, with Help and Log out.
$('help-narrow').before(el('button', { id: 'search-narrow', type: 'button', onclick: () => { $('app').classList.remove('drawer-open'); $('toggle-convs').setAttribute('aria-expanded', 'false'); openSearch(); } }, 'Search'));

// ---------------------------------------------------------------------
// Commands

commands.splice(commands.findIndex((c) => c.name === 'kick'), 0,
  { name: 'me', args: 'TEXT', help: 'send an action: /me waves shows as * you waves' },
  { name: 'edit', args: 'ID TEXT', help: 'change the text of your message ID (↑ in an empty message box edits your last one); everyone sees it marked (edited)' },
  { name: 'reply', args: 'ID TEXT', help: 'send TEXT here as a reply to message ID, which it quotes' },
  { name: 'react', args: 'ID EMOJI', help: 'put an emoji (:thumbsup: or 👍) on message ID; the same again takes it back' },
  { name: 'search', args: 'WORDS [in #ROOM|@NAME]', help: 'find the newest 20 messages with all of WORDS, in every conversation or in one; choose one to see it where it was said' },
  { name: 'jump', args: 'ID', help: 'open the conversation of match ID of the last /search at that message' },
  { name: 'context', args: 'ID', help: 'show message ID (a /search match, or one of the current conversation) with the 20 messages before it' },
  { name: 'nick', args: '[NAME]', help: 'be shown as NAME, keeping your login name (without NAME: shown by your login name again)' },
  { name: 'topic', args: '[TEXT]', help: 'set the topic of the current room, or clear it without TEXT (owner only)' },
  { name: 'op', args: 'NAME', help: 'make NAME an operator of the current room: they may kick, unban, set the topic and change roles, as the owner may (owner and operators only)' },
  { name: 'deop', args: 'NAME', help: 'take operator from NAME in the current room (owner and operators only)' },
  { name: 'voice', args: 'NAME', help: 'give NAME voice in the current room: a mark beside their name, no right (owner and operators only)' },
  { name: 'devoice', args: 'NAME', help: 'take voice from NAME in the current room (owner and operators only)' },
  { name: 'secret', args: 'on|off', help: 'on: /rooms lists the current room to its members only (anyone who knows its name may still join); off: to everyone (owner and operators only)' },
  { name: 'topiclock', args: 'on|off', help: 'on: only the owner and operators set the topic (as a new room has it); off: any member may (owner and operators only)' },
  { name: 'read', args: '[ID]', help: 'mark the current conversation read up to message ID (default: the newest shown; done by itself while it is on screen)' });

const usage = (s) => { throw { message: 'usage: ' + s }; };

hooks.command = async (c, name, rest) => {
  switch (name) {
    case 'me': {
      const text = expandEmoji(rest.trim());
      if (!text) usage('/me TEXT');
      sendMessage(c, { kind: 'action', text }).catch(() => {});
      return true;
    }
    case 'edit': {
      const m = /^(\S+)\s+([\s\S]+)$/.exec(rest.trim());
      if (!m || !parseId(m[1])) usage('/edit ID TEXT, with ID the number shown after the time (#123)');
      await request({ type: 'edit', msg: parseId(m[1]), text: expandEmoji(m[2]) });
      return true;
    }
    case 'reply': {
      const m = /^(\S+)\s+([\s\S]+)$/.exec(rest.trim());
      if (!m || !parseId(m[1])) usage('/reply ID TEXT');
      const text = expandEmoji(m[2]);
      if (!text.trim()) usage('/reply ID TEXT');
      sendMessage(c, { text, reply_to: parseId(m[1]) }).catch(() => {});
      return true;
    }
    case 'react': {
      const [id, emoji] = rest.trim().split(/\s+/);
      if (!parseId(id) || !emoji) usage('/react ID EMOJI, such as /react 123 :thumbsup:');
      const e = emojiOf(emoji);
      if (!e) throw { message: 'no emoji is called ' + emoji + '; the emoji picker lists them' };
      await react(parseId(id), e);
      return true;
    }
    case 'search': {
      const m = /^([\s\S]*?)(?:\s+in\s+([#@]\S+))?$/.exec(rest.trim());
      const words = (m && m[1]) || '';
      if (!words.trim()) usage('/search WORDS [in #ROOM|@NAME]');
      const t = m[2] ? (m[2][0] === '@' ? { to: m[2].slice(1) } : { room: m[2].slice(1) }) : {};
      openSearch(words, t);
      return true;
    }
    case 'nick': {
      const nick = rest.trim();
      if (/\s/.test(nick)) usage('/nick NAME: a name has no spaces');
      const ok = await request({ type: 'nick', nick });
      S.nick = ok.nick || '';
      notice(c, ok.nick ? 'You are shown as ' + ok.nick + ' now.' : 'You are shown by your login name, ' + (ok.name || S.me) + ', again.');
      return true;
    }
    case 'op': case 'deop': case 'voice': case 'devoice': {
      const who = rest.trim().replace(/^@/, '');
      if (!who || /\s/.test(who)) usage('/' + name + ' NAME');
      if (c.kind !== 'room' || c.key === 'lobby') throw { message: '/' + name + ' works in a room; switch to it first' };
      const on = name === 'op' || name === 'voice';
      const role = name.endsWith('op') ? 'operator' : 'voice';
      await request({ type: 'mode', room: c.name, name: who, [role]: on });
      return true;
    }
    case 'secret': case 'topiclock': {
      const v = rest.trim().toLowerCase();
      if (v !== 'on' && v !== 'off') usage('/' + name + ' on|off');
      if (c.kind !== 'room' || c.key === 'lobby') throw { message: '/' + name + ' works in a room; switch to it first' };
      await request({ type: 'mode', room: c.name, [name === 'secret' ? 'secret' : 'topic_lock']: v === 'on' });
      return true;
    }
    case 'topic': {
      if (c.kind !== 'room' || c.key === 'lobby') throw { message: 'the lobby and private conversations have no topic; /topic sets the current room\'s' };
      await request({ type: 'topic', room: c.name, text: rest.trim() });
      return true;
    }
    case 'read': {
      if (!rest.trim()) { readSoon(c, true); return true; }
      const id = parseId(rest.trim());
      if (!id) usage('/read [ID], with ID a message number (#123)');
      await readUpTo(c, id);
      return true;
    }
    case 'jump': {
      const id = parseId(rest.trim());
      const hc = search.hits.get(id);
      if (!id || !hc) usage('/jump ID, with ID a match of the last /search');
      await openAt(hc, id);
      return true;
    }
    case 'context': {
      const id = parseId(rest.trim());
      if (!id) usage('/context ID, with ID a message number (of a /search match, say)');
      // The conversation of a search match, or of a message shown
      // somewhere, else the current one.
      const found = findMessage(id);
      await openAt(search.hits.get(id) || (found && found.c) || c, id, 20);
      return true;
    }
    case 'rooms': {
      const ok = await request({ type: 'rooms' });
      takeTopics(ok.rooms);
      renderHeaderTopic(current());
      notice(c, 'Rooms: ' + (ok.rooms || []).map((r) => r.name + ' (' + r.members + (r.owner ? ', owner ' + r.owner : '') + (r.joined ? ', joined' : '') + ')' + (r.topic ? ': ' + r.topic : '')).join('; ') + (ok.more ? '; and ' + ok.more + ' more' : ''));
      return true;
    }
    default: return false;
  }
};
