// The web client: the chat's JSON protocol over a WebSocket to /ws, one JSON object per message
// (docs/protocol.md). Every name and text is inserted as text (textContent), never as HTML.
// One file because the page is served as it is, with no build step: its connection, state and rendering share one
// `state` object and the DOM, and a second script would only add a load-order contract.
"use strict";

const $ = (id) => document.getElementById(id);
const AUTO = "auto";          // id of requests the page makes by itself: their replies are applied quietly
const OLDER = "older";        // id of requests for older history
const PAGE = "page";          // id of the requests that read a resume on, page after page
const SETTINGS = "settings";  // id of the settings panel's requests: their replies fill the panel
const USER = "u";             // id prefix of what the user typed: a join it asked for becomes the current room
const SEARCH = "search";      // id of the search box's requests
const CONTEXT = "ctx:";       // id prefix of the history read around a search result (then its msgid)
const TYPING_SHOWN_MS = 6000, TYPING_SEND_MS = 3000, RECLAIM_MS = 30000;

const state = {
  ws: null, name: null, confirmed: null, node: null,
  rooms: new Map(),           // room -> {lines: [], ids: Set, unread, lastId, oldestId, members: Map, typing: Map}
  order: [], current: null,
  failures: 0, reclaimUntil: 0, typingSent: new Map(), requests: 0,
  quitting: false,            // after /quit: no reconnecting
  knowsRooms: false,          // the server has told us about our rooms (a reconnect's hello lists them)
  password: null,             // a registered name's password, in memory only, for reconnects
  joinsAfterWelcome: [],      // rooms that did not fit in the hello
  resumingRooms: new Set(),   // rooms a reconnect's hello named, until each is joined again
  replyTo: null,              // {room, id, from, text}: the message the next line answers
  editing: null,              // {room, id}: the own message the next line rewrites
  search: null,               // {text, page, results}: what the search panel shows
  found: null,                // the msgid of the search result opened in its room's history
};
const REACTIONS = ["👍", "❤️", "😂", "🎉", "😮", "😢"];   // the picker's small set; any emoji arrives and shows
const MAX_LINES = 2000;        // per room, as the terminal client keeps

// --- stream ids: "<ms>-<seq>", compared as numbers ---
function compareIds(a, b) {
  const [am, as] = a.split("-").map(Number), [bm, bs] = b.split("-").map(Number);
  return am - bm || as - bs;
}

// The resume token of the last welcome, with the name it is for: a reconnect (or a reload of this tab) gets the
// name back at once. sessionStorage, not localStorage: it dies with the tab and is not shared with other tabs.
const RESUME_KEY = "chat.resume";
function savedResume(name) {
  try {
    const saved = JSON.parse(sessionStorage.getItem(RESUME_KEY) || "null");
    return saved && same(saved.name, name) ? saved.token : undefined;
  } catch (_) { return undefined; }
}

// --- connection ---
function connect() {
  setStatus("connecting…");
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
  state.ws = ws;
  ws.onopen = () => { if (state.name) hello(state.name); else showLogin(state.loginNotice || ""); };
  ws.onmessage = (event) => { try { receive(JSON.parse(event.data)); } catch (e) { console.error(e); } };
  ws.onclose = () => {
    if (state.ws !== ws) return;
    state.ws = null;
    if (state.quitting) { setStatus(state.quitReason || "You left. Reload the page to chat again.", !!state.quitReason); return; }
    state.failures += 1;
    const ceiling = Math.min(8000, 250 * 2 ** Math.min(state.failures - 1, 10));
    const delay = ceiling / 2 + Math.random() * ceiling / 2;
    setStatus(`reconnecting in ${(delay / 1000).toFixed(1)} s…`, true);
    setTimeout(connect, delay);
  };
}

// After a reconnect, hello names the rooms we were in with the last message seen in each (the current room last,
// so it is current again): the server puts us back in exactly those and replays what we missed. The first time it
// names none, and the server puts us in the lobby.
// Rooms that do not fit in the hello message (the server takes 4 KiB) are joined once the welcome has come. Until
// the server has told us about our rooms at all (a connection lost before the first join), hello names none.
function hello(name) {
  state.joinsAfterWelcome = [];
  state.helloPending = true;
  const login = { password: state.password || undefined, resume: savedResume(name) };
  if (!state.confirmed || !state.knowsRooms) return send({ op: "hello", name, ...login });
  const order = state.order.filter((room) => room !== state.current);
  if (state.current && state.rooms.has(state.current)) order.push(state.current);
  // A catch-up read page by page resumes where its pages got to, not after the newest live message.
  const rooms = order.map((room) => {
    const view = state.rooms.get(room);
    return { room, since: view.caughtUpTo || view.lastId || undefined };
  });
  while (rooms.length > 1 && new TextEncoder().encode(JSON.stringify({ op: "hello", name, rooms, ...login })).length > 3500) {
    const first = rooms.shift();
    state.joinsAfterWelcome.push({ op: "join", room: first.room, since: first.since, id: AUTO });
  }
  send({ op: "hello", name, rooms, ...login });
}

// A resume's page that is not the last: ask for the next, after its newest message. The last page ends the
// catch-up.
function nextPage(room, messages, more) {
  if (more && messages.length > 0) return readOn(room, messages[messages.length - 1].msgid);
  const view = state.rooms.get(room);
  if (view) view.caughtUpTo = null;
}

function readOn(room, after) {
  const view = state.rooms.get(room);
  if (view) view.caughtUpTo = after;
  send({ op: "history", room, after, id: PAGE });
}

function send(request) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(request));
}

function setStatus(text, bad = false) {
  $("status").textContent = text;
  $("status").classList.toggle("bad", bad);
}

// --- what the server says ---
function receive(event) {
  const quiet = event.id === AUTO;
  switch (event.type) {
    case "welcome":
      state.confirmed = state.name = event.name;
      state.node = event.node;
      state.helloPending = false;
      if (event.resume) {
        try { sessionStorage.setItem(RESUME_KEY, JSON.stringify({ name: event.name, token: event.resume })); } catch (_) { }
      }
      state.failures = 0;
      state.reclaimUntil = 0;
      setStatus(`${event.name} on node ${event.node}`);
      $("login").hidden = true;
      $("chat").hidden = false;
      state.resumingRooms = new Set(state.order);
      for (const join of state.joinsAfterWelcome || []) send(join);
      state.joinsAfterWelcome = [];
      $("input").focus();
      break;
    case "joined": {
      const isUserJoin = typeof event.id === "string" && event.id.startsWith(USER);
      state.knowsRooms = true;
      if (!state.rooms.has(event.room)) {
        state.rooms.set(event.room, { lines: [], ids: new Set(), unread: 0, lastId: null, oldestId: null, members: new Map(), typing: new Map() });
        state.order.push(event.room);
      }
      // The topic, if the room has one, follows this reply; a resume's is set quietly.
      const joinedRoom = state.rooms.get(event.room);
      joinedRoom.topic = null;
      joinedRoom.quietTopic = (!isUserJoin && quiet) || state.resumingRooms.has(event.room);
      state.resumingRooms.delete(event.room);
      for (const message of event.history) addMessage(message);
      if (isUserJoin || !state.current) select(event.room); else render();
      send({ op: "who", room: event.room, id: AUTO });
      nextPage(event.room, event.history, event.more);
      break;
    }
    case "left":
      state.knowsRooms = true;
      forgetRoom(event.room);
      break;
    case "kicked": {
      const why = event.reason ? ` (${event.reason})` : "";
      if (same(event.name, state.confirmed)) {
        // Out of the room on the server already: drop it (a reconnect must not ask for it again), say so where we are.
        forgetRoom(event.room);
        addLine(state.current, { kind: "error", time: event.time, text: `${event.by} removed you from #${event.room}${why}` });
        break;
      }
      const room = state.rooms.get(event.room);
      if (room) { room.members.delete(event.name.toLowerCase()); if (event.room === state.current) renderPeople(); }
      addLine(event.room, { kind: "notice", time: event.time, text: `${event.by} removed ${event.name} from #${event.room}${why}` });
      break;
    }
    case "mode": {
      const room = state.rooms.get(event.room);
      for (const change of event.changes) {
        const person = room && change.name && !change.mute && room.members.get(change.name.toLowerCase());
        const role = person && ROLES[change.mode[1]];
        if (role) {
          // The member list shows the highest role: owner over operator over voice.
          if (change.mode[0] === "+") { if (rank(person.role) < rank(role)) person.role = role; }
          else if (person.role === role) person.role = role === "owner" ? "operator" : undefined;
        }
      }
      if (event.room === state.current) renderPeople();
      // An open settings panel shows the room as it is now (and what the viewer may do, if their role changed).
      if (state.settingsFor === event.room && event.id !== SETTINGS) openSettings();
      addLine(event.room, { kind: "notice", time: event.time, text: `${event.by} ${event.changes.map((c) => c.text).join(", ")}` });
      break;
    }
    case "settings": {
      if (event.id === SETTINGS) { if (event.room === state.settingsFor) showSettings(event); break; }
      const parts = [...event.flags];
      if (event.key) parts.push("a key is needed to join");
      if (event.limit) parts.push(`at most ${event.limit} members`);
      info(parts.length ? `#${event.room}: ${parts.join(", ")}` : `#${event.room} has no settings: anyone may join and speak`, event.time);
      break;
    }
    case "bans":
      if (event.id === SETTINGS) { if (event.room === state.settingsFor) showBans(event); break; }
      info(event.bans.length ? `Bans and mutes in #${event.room}: ` + event.bans.map((b) => `${b.mask} (by ${b.by}${b.until ? ", until " + new Date(b.until).toLocaleString() : ""}${b.reason ? ": " + b.reason : ""})`).join("; ") : `#${event.room} bans and mutes nobody`, event.time);
      break;
    case "room-registered": {
      // Registered rooms (docs/moderation.md): the owner's ~ moves.
      const room = state.rooms.get(event.room);
      const previous = room && event.previous && room.members.get(event.previous.toLowerCase());
      if (previous && previous.role === "owner") previous.role = "operator";
      const owner = room && event.owner && room.members.get(event.owner.toLowerCase());
      if (owner) owner.role = "owner";
      if (event.room === state.current) renderPeople();
      if (state.settingsFor === event.room) openSettings();
      const text = !event.owner ? `${event.by} unregistered #${event.room}: it is an ordinary room again`
        : event.previous ? `${event.by} gave #${event.room} to ${event.owner}: it was ${event.previous}'s`
        : `${event.by} registered #${event.room}: ${event.owner} owns it, and it keeps its operators, settings and bans while empty`;
      addLine(event.room, { kind: "notice", time: event.time, text });
      break;
    }
    case "room-info":
      if (event.id === SETTINGS) { if (event.room === state.settingsFor) showRegistration(event); break; }
      info(!event.owner ? `#${event.room} is not registered` : `#${event.room} is registered to ${event.owner}` + (event.since ? ` since ${new Date(event.since).toLocaleString()}` : "")
        + (event.access ? (event.access.length ? "; roles it gives at a join: " + event.access.map((a) => `${a.name} (${a.role})`).join(", ") : "; it gives nobody else a role") : ""), event.time);
      break;
    case "invited":
      info(`${event.by} invites you to #${event.room}: type /join #${event.room}`, event.time);
      notify(`Invitation from ${event.by}`, `#${event.room}`);
      break;
    // Server operators (docs/moderation.md).
    case "announcement":
      addLine(state.current, { kind: "error", time: event.time, text: `Announcement from ${event.from}${event.operators ? " to the operators" : ""}: ${event.text}` });
      notify(`Announcement from ${event.from}`, event.text);
      break;
    case "motd":
      if (event.text) info(`Message of the day: ${event.text}`, event.time);
      else if (!quiet) info("There is no message of the day", event.time);
      break;
    case "blocks":
      info((event.names.length ? `You block ${event.names.join(", ")}` : "You block nobody") + (event.dms === "registered" ? "; direct messages from guests are refused" : ""), event.time);
      break;
    case "server-operator": info("You are one of this server's operators: /help lists what they may do", event.time); break;
    case "server-operator-ended": info("You are no longer one of this server's operators", event.time); break;
    case "room-closed": {
      forgetRoom(event.room);
      const why = event.reason ? ` (${event.reason})` : "";
      addLine(state.current, { kind: "error", time: event.time, text: `${event.by} closed #${event.room}${why}: everyone is out, its history is gone` });
      render();
      break;
    }
    case "network-bans":
      info(event.bans.length ? "Network bans: " + event.bans.map((b) => `${b.mask} (by ${b.by}${b.until ? ", until " + new Date(b.until).toLocaleString() : ""}${b.reason ? ": " + b.reason : ""})`).join("; ") : "The network bans nobody", event.time);
      break;
    case "audit":
      info(event.entries.length ? "Audit log, newest first:" : "The audit log is empty", event.time);
      for (const entry of event.entries) {
        info(`${new Date(entry.time).toLocaleString()} ${entry.actor} ${entry.action} ${entry.target}${entry.room ? " in #" + entry.room : ""}${entry.detail ? ": " + entry.detail : ""}`, event.time);
      }
      break;
    case "message": {
      const room = state.rooms.get(event.room);
      if (room) room.typing.delete(event.from.toLowerCase());
      addMessage(event);
      break;
    }
    case "reacted": case "unreacted": case "edited": case "deleted":
      applyChange(event);
      break;
    case "read": {
      // Where this name has read the room up to: after a join (with the server's unread count), the reply to our
      // own mark, or another device of ours moving it.
      const room = state.rooms.get(event.room);
      if (!room) break;
      if (event.msgid && (!room.readId || compareIds(event.msgid, room.readId) > 0)) room.readId = event.msgid;
      if (event.room !== state.current) {
        room.unread = event.unread !== undefined ? event.unread
          : room.lines.filter((line) => line.id && line.kind !== "notice" && !line.own && (!room.readId || compareIds(line.id, room.readId) > 0)).length;
        room.unreadMore = !!event.more;
        renderRooms();
      }
      break;
    }
    case "direct": {
      const outgoing = same(event.from, state.confirmed) && !same(event.to, state.confirmed);
      const said = event.action ? `* ${event.from} ${event.text}` : event.text;
      addLine(state.current, { kind: "dm", time: event.time, from: event.from,
        text: outgoing ? `→ ${event.to}: ${said}` : said });
      if (!outgoing) notify(`Direct message from ${event.from}`, event.text);
      break;
    }
    case "topic": {
      const room = state.rooms.get(event.room);
      const topic = event.text ? { text: event.text, by: event.by, time: event.time } : null;
      if (room) room.topic = topic;
      if (event.changed) {
        addLine(event.room, { kind: "notice", time: event.time,
          text: event.text ? `${event.by} set the topic: ${event.text}` : `${event.by} cleared the topic` });
      } else if (room && room.quietTopic && !(typeof event.id === "string" && event.id.startsWith(USER))) {
        room.quietTopic = false;
      } else if (room || !quiet) {
        const line = { kind: "info", time: event.time,
          text: topic ? `Topic of #${event.room}: ${topic.text} (set by ${topic.by}, ${new Date(topic.time).toLocaleString()})` : `#${event.room} has no topic` };
        if (room) addLine(event.room, line); else info(line.text, line.time);
      }
      if (event.room === state.current) renderTopic();
      break;
    }
    case "join":
      member(event.room, event.name, { state: "online", idle: 0 });
      addLine(event.room, { kind: "notice", time: event.time, text: `${event.name} joined #${event.room}` });
      break;
    case "leave": {
      const room = state.rooms.get(event.room);
      if (room) { room.members.delete(event.name.toLowerCase()); room.typing.delete(event.name.toLowerCase()); }
      const said = event.message ? event.message : "";
      const why = event.reason && event.reason !== "left" ? ` (${event.reason}${said ? ": " + said : ""})` : said ? ` (${said})` : "";
      addLine(event.room, { kind: "notice", time: event.time, text: `${event.name} left #${event.room}${why}` });
      break;
    }
    case "renamed":
      if (!event.room) {
        // Ours: the name a reconnect asks for (with the same resume token), and the one our rooms list us under.
        const old = state.confirmed || "";
        state.confirmed = state.name = event.to;
        try {
          const saved = JSON.parse(sessionStorage.getItem(RESUME_KEY) || "null");
          if (saved) sessionStorage.setItem(RESUME_KEY, JSON.stringify({ name: event.to, token: saved.token }));
        } catch (_) { }
        for (const name of state.order) renameMember(name, old, event.to);
        setStatus(`${event.to} on node ${state.node}`);
        info(`You are now known as ${event.to}`, event.time);
        break;
      }
      renameMember(event.room, event.from, event.to);
      addLine(event.room, { kind: "notice", time: event.time, text: `${event.from} is now known as ${event.to}` });
      break;
    case "presence":
      member(event.room, event.name, { state: event.state, away: event.away, idle: 0 });
      addLine(event.room, { kind: "notice", time: event.time,
        text: event.state === "away" ? `${event.name} is away${event.away ? ": " + event.away : ""}` : `${event.name} is back` });
      break;
    case "typing": {
      const room = state.rooms.get(event.room);
      if (room && !same(event.name, state.confirmed)) { room.typing.set(event.name.toLowerCase(), { name: event.name, at: Date.now() }); renderTyping(); }
      break;
    }
    case "tagmsg": {
      // Client tags from IRC clients: their typing notices show as typing; a "done" one clears it.
      const room = event.room && state.rooms.get(event.room);
      const typing = event.tags && event.tags["+typing"];
      if (!room || !typing || same(event.from, state.confirmed)) break;
      if (typing === "done") room.typing.delete(event.from.toLowerCase());
      else if (typing === "active") room.typing.set(event.from.toLowerCase(), { name: event.from, at: Date.now() });
      renderTyping();
      break;
    }
    case "who": {
      const room = state.rooms.get(event.room);
      if (room) {
        room.members = new Map(event.members.map((m) => [m.name.toLowerCase(), m]));
        room.memberCount = event.count ?? event.members.length;
        if (event.room === state.current) renderPeople();
      }
      // A big room comes in pages: the first is shown, with how many there are in all.
      const count = event.count ?? event.members.length;
      const more = count > event.members.length ? ` and ${count - event.members.length} more` : "";
      if (!quiet) info(`${count} in #${event.room}: ` + event.members.map((m) => m.name + (m.state === "away" ? " (away)" : "")).join(", ") + more, event.time);
      break;
    }
    case "search":
      showResults(event);
      break;
    case "forgotten":
      info(`${event.count} of your messages removed from the archive`, event.time);
      break;
    case "history": {
      const room = state.rooms.get(event.room);
      if (!room) break;
      if (typeof event.id === "string" && event.id.startsWith(CONTEXT)) {
        for (const message of event.messages) addMessage(message, false, false);
        if (event.room === state.current) { render(); showFound(); }
        break;
      }
      const older = event.id === OLDER, shown = event.room === state.current;
      if (older) { room.olderPending = false; if (event.messages.length === 0) room.olderExhausted = true; }
      const log = $("log"), fromBottom = log.scrollHeight - log.scrollTop;
      for (const message of event.messages) addMessage(message, false, event.id === PAGE);
      if (shown) {
        render();
        if (older) log.scrollTop = log.scrollHeight - fromBottom;   // keep the reader's place
      }
      if (event.id === PAGE) nextPage(event.room, event.messages, event.more);
      break;
    }
    case "gap":
      // Missed here but still kept: read it. Gone for good: say so.
      if (!event.lost) readOn(event.room, event.after);
      else addLine(event.room, { kind: "notice", time: event.time, text: "Some earlier messages are no longer available." });
      break;
    case "rooms":
      if (!quiet) {
        const more = (event.count ?? event.rooms.length) > event.rooms.length ? ` (the ${event.rooms.length} busiest of ${event.count})` : "";
        info(event.rooms.length ? "Rooms" + more + ": " + event.rooms.map((r) => `#${r.room} (${r.members})`).join(", ") : "No rooms have anybody in them", event.time);
      }
      break;
    case "seen":
      info(event.state === "online" ? `${event.name}${event.realname ? ` (${event.realname})` : ""} is online on node ${event.node}${event.away ? `, away: ${event.away}` : ""}`
        : event.state === "offline" ? `${event.name} was last here ${new Date(event.disconnected).toLocaleString()}`
        : `Nobody called ${event.name} has been seen here`, event.time);
      break;
    case "recipient-away": info(`${event.name} is away: ${event.text}`, event.time); break;
    case "help": for (const line of event.lines) info(line, event.time); break;
    case "ok": if (!quiet) info(event.text, event.time); break;
    case "ping": send({ op: "pong" }); break;   // the server checks we are alive after a silence
    case "bye": state.quitting = true; info(`Server: bye (${event.reason})`, event.time); break;
    case "error": error(event); break;
  }
}

function error(event) {
  if (event.code === "removed" || event.code === "replaced") {
    // A server operator disconnected us, or a newer login of our name took this connection's place: no
    // reconnecting (it would take another's place in turn), and the reason stays on screen.
    state.quitting = true;
    state.quitReason = `${event.code}: ${event.message}`;
    setStatus(state.quitReason, true);
    addLine(state.current, { kind: "error", time: event.time, text: state.quitReason });
    return;
  }
  if ((event.code === "suspended" || event.code === "banned") && state.confirmed && state.helloPending) {
    // Our own name, refused on a reconnect: coming back would be refused again.
    state.quitting = true;
    state.quitReason = `${event.code}: ${event.message}`;
    setStatus(state.quitReason, true);
    addLine(state.current, { kind: "error", time: event.time, text: state.quitReason });
    return;
  }
  if ((event.code === "suspended" || event.code === "banned") && !state.confirmed) {
    // Kept out at login: the server closes; the next connection asks for a name again, saying why.
    state.name = null;
    state.loginNotice = event.message;
    showLogin(event.message);
    return;
  }
  if ((event.code === "password-required" || event.code === "bad-password") && state.helloPending) {
    // A registered name, in reply to our hello: ask for its password (again, if ours was refused). Once
    // welcomed, a bad-password answers /password or /unregister: an ordinary error.
    state.password = null;
    showLogin(event.message, true);
    return;
  }
  const nameRefused = event.code === "name-taken" || event.code === "name-invalid";
  if (nameRefused && !state.confirmed) { state.name = null; showLogin(event.message); return; }
  if (event.code === "name-taken" && state.confirmed) {
    // After a reconnect our own name can still be held by the connection that was lost: ask again for a while.
    if (!state.reclaimUntil) state.reclaimUntil = Date.now() + RECLAIM_MS;
    if (Date.now() < state.reclaimUntil) {
      setStatus(`waiting for the name ${state.confirmed} to be freed…`, true);
      setTimeout(() => hello(state.confirmed), 1000);
      return;
    }
    state.confirmed = state.name = null;
    showLogin(event.message);
    return;
  }
  addLine(state.current, { kind: "error", time: event.time, text: `${event.code}: ${event.message}` });
}

function forgetRoom(name) {
  const index = state.order.indexOf(name);
  if (index < 0) return;
  if (state.settingsFor === name) closeSettings();
  state.order.splice(index, 1);
  state.rooms.delete(name);
  if (state.current === name) state.current = null;
  select(state.order[Math.min(index, state.order.length - 1)] || null);
}

function same(a, b) { return !!a && !!b && a.toLowerCase() === b.toLowerCase(); }

function member(roomName, name, fields) {
  const room = state.rooms.get(roomName);
  if (!room) return;
  const known = room.members.get(name.toLowerCase());
  room.members.set(name.toLowerCase(), { name, role: known?.role, ...fields });
  room.typing.delete(name.toLowerCase());
  if (roomName === state.current) renderPeople();
}

function renameMember(roomName, from, to) {
  const room = state.rooms.get(roomName);
  const known = room && room.members.get(from.toLowerCase());
  if (!known) return;
  room.members.delete(from.toLowerCase());
  room.typing.delete(from.toLowerCase());
  room.members.set(to.toLowerCase(), { ...known, name: to });
  if (roomName === state.current) renderPeople();
}

function info(text, time) { addLine(state.current, { kind: "info", time: time || Date.now(), text }); }

// --- timelines: messages in stream-id order, never twice ---
function addMessage(message, draw = true, live = true) {
  const room = state.rooms.get(message.room);
  if (!room || room.ids.has(message.msgid)) return;
  room.ids.add(message.msgid);
  const own = same(message.from, state.confirmed);
  const mention = !own && state.confirmed && message.text.toLowerCase().includes(state.confirmed.toLowerCase());
  // A notice (from an IRC client or a bot) is shown dimmed, as IRC clients show one: -name- text.
  const line = message.notice
    ? { kind: "notice", id: message.msgid, time: message.time, from: message.from, text: `-${message.from}- ${message.text}` }
    : { kind: message.action ? "action" : "message", id: message.msgid, time: message.time, from: message.from, text: message.text, own, mention };
  line.room = message.room;
  line.body = message.text;
  line.reply = message.reply || null;
  line.edited = message.edited || null;
  line.reactions = message.reactions || [];
  let index = room.lines.length;
  while (index > 0 && compareIds(room.lines[index - 1].id || `${room.lines[index - 1].time}-0`, message.msgid) > 0) index--;
  room.lines.splice(index, 0, line);
  if (!room.lastId || compareIds(message.msgid, room.lastId) > 0) room.lastId = message.msgid;
  if (!room.oldestId || compareIds(message.msgid, room.oldestId) < 0) room.oldestId = message.msgid;
  if (live && !own && message.room !== state.current) room.unread += 1;
  if (message.room === state.current) scheduleMarkRead();
  if (live && mention) notify(`${message.from} in #${message.room}`, message.text);
  trim(room);
  if (!draw) return;
  if (message.room !== state.current) renderRooms();     // only the unread count changed on screen
  else if (index === room.lines.length - 1) appendToLog(line);
  else render();
}

// A reaction, an edit or a delete of a message the page has: its line changes in place (or goes). The same change
// twice (a resume sends again what was done to messages the page had) changes nothing more.
function applyChange(change) {
  const room = state.rooms.get(change.room);
  if (!room) return;
  if (!room.lastId || compareIds(change.change, room.lastId) > 0) room.lastId = change.change;
  const index = room.lines.findIndex((line) => line.id === change.msgid);
  if (index < 0) return;
  const line = room.lines[index];
  if (change.type === "deleted") {
    room.lines.splice(index, 1);
    if (state.editing && state.editing.id === change.msgid) cancelCompose();
    if (state.replyTo && state.replyTo.id === change.msgid) cancelCompose();
  } else if (change.type === "edited") {
    line.body = change.text;
    line.text = line.kind === "notice" ? `-${line.from}- ${change.text}` : change.text;
    line.edited = change.time;
  } else {
    const reactions = line.reactions || (line.reactions = []);
    let reaction = reactions.find((r) => r.emoji === change.emoji);
    if (change.type === "reacted") {
      if (!reaction) reactions.push(reaction = { emoji: change.emoji, count: 0, names: [] });
      if (!reaction.names.includes(change.from)) reaction.names.push(change.from);
    } else if (reaction) {
      reaction.names = reaction.names.filter((name) => name !== change.from);
      if (!reaction.names.length) reactions.splice(reactions.indexOf(reaction), 1);
    }
    if (reaction) reaction.count = reaction.names.length;
  }
  if (change.room === state.current) render();
}

// The room on screen is read up to its newest message: told to the server (at most once a second, and only while
// the page is visible), which keeps it for this name's other devices and its next login.
function scheduleMarkRead() {
  if (state.markTimer) return;
  state.markTimer = setTimeout(() => { state.markTimer = null; markRead(); }, 1000);
}

function markRead() {
  const room = state.current && state.rooms.get(state.current);
  if (!room || document.visibilityState !== "visible" || !state.ws || state.ws.readyState !== WebSocket.OPEN) return;
  const newest = [...room.lines].reverse().find((line) => line.id);
  if (!newest || (room.readId && compareIds(newest.id, room.readId) <= 0)) return;
  room.readId = newest.id;
  send({ op: "read", room: state.current, msgid: newest.id, id: AUTO });
}

function trim(room) {
  if (room.lines.length <= MAX_LINES) return;
  room.lines.splice(0, room.lines.length - MAX_LINES);
  const first = room.lines.find((line) => line.id);
  room.oldestId = first ? first.id : room.oldestId;
}

function addLine(roomName, line) {
  const room = roomName && state.rooms.get(roomName);
  if (!room) { if (line.kind === "error") setStatus(line.text, true); return; }
  room.lines.push(line);
  trim(room);
  if (roomName === state.current) appendToLog(line);
}

// --- drawing ---
function select(roomName) {
  state.current = roomName;
  if (state.settingsFor && state.settingsFor !== roomName) closeSettings();
  state.menuFor = null;
  const room = roomName && state.rooms.get(roomName);
  if (room) { room.unread = 0; room.unreadMore = false; }
  // A reply or an edit under way belongs to the room it was started in: switching away drops it.
  const composing = state.replyTo || state.editing;
  if (composing && composing.room !== roomName) cancelCompose();
  scheduleMarkRead();
  $("older").disabled = !!(room && room.olderExhausted);
  $("older").textContent = room && room.olderExhausted ? "No older messages" : "Load older messages";
  render();
}

function render() {
  renderRooms();
  $("room-title").textContent = state.current ? "#" + state.current : "no room";
  renderTopic();
  const room = state.current && state.rooms.get(state.current);
  const log = $("log");
  const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  log.replaceChildren(...(room ? room.lines.map((line, index) => lineElement(line, room.lines[index - 1])) : []));
  if (atBottom) log.scrollTop = log.scrollHeight;
  if (room) {
    $("older").disabled = !!room.olderExhausted;
    $("older").textContent = room.olderExhausted ? "No older messages" : "Load older messages";
  }
  renderPeople();
  renderTyping();
}

function renderTopic() {
  const room = state.current && state.rooms.get(state.current);
  const topic = room && room.topic;
  $("room-topic").textContent = topic ? topic.text : "";
  $("room-topic").title = topic ? `set by ${topic.by}, ${new Date(topic.time).toLocaleString()}` : "";
}

function renderRooms() {
  const rooms = $("rooms");
  rooms.replaceChildren(...state.order.map((name) => {
    const room = state.rooms.get(name), item = document.createElement("li"), button = document.createElement("button");
    button.type = "button";
    button.textContent = "#" + name;
    if (name === state.current) button.setAttribute("aria-current", "true");
    if (room.unread > 0) {
      const badge = document.createElement("span");
      badge.className = "unread";
      badge.textContent = String(room.unread) + (room.unreadMore ? "+" : "");
      badge.setAttribute("aria-label", `${badge.textContent} unread`);
      button.append(badge);
    }
    button.addEventListener("click", () => { select(name); $("input").focus(); });
    item.append(button);
    return item;
  }));
}

function appendToLog(line) {
  const log = $("log");
  const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  const room = state.current && state.rooms.get(state.current);
  const previous = room && room.lines.length > 1 && room.lines[room.lines.length - 1] === line ? room.lines[room.lines.length - 2] : null;
  log.append(lineElement(line, previous));
  if (atBottom) log.scrollTop = log.scrollHeight;
}

// A message right after another of the same person's (within five minutes, not a reply) is grouped under it.
function groupsWith(line, previous) {
  return !!previous && line.kind === "message" && previous.kind === "message" && !line.reply
    && same(line.from, previous.from) && line.time - previous.time < 5 * 60 * 1000;
}

function lineElement(line, previous) {
  const item = document.createElement("li");
  if (line.id) item.dataset.id = line.id;
  if (line.id && line.id === state.found) item.classList.add("found");
  item.className = [line.kind, line.own ? "own" : "", line.mention ? "mention" : "", groupsWith(line, previous) ? "grouped" : ""].join(" ").trim();
  const time = document.createElement("time");
  const date = new Date(line.time);
  time.dateTime = date.toISOString();
  time.textContent = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  item.append(time, " ");   // spaces as text too, so copied text and screen readers read words apart
  // Names and texts from people are each isolated (<bdi>): right-to-left text, or a direction control the server
  // missed, cannot spill past its own span and reorder what comes after it.
  if (line.kind === "message" || line.kind === "dm") {
    const from = document.createElement("bdi");
    from.className = "from";
    from.textContent = line.kind === "dm" ? `[DM] ${line.from}:` : `${line.from}:`;
    item.append(from, " ");
  } else if (line.kind === "action") {
    const from = document.createElement("bdi");
    from.textContent = line.from;
    item.append("* ", from, " ");
  }
  if (line.reply) {
    // The message it answers, above it: its author and the start of its text, or that it is gone.
    const quote = document.createElement("div");
    quote.className = "reply-to";
    const who = document.createElement("bdi");
    who.textContent = line.reply.from ? `↳ ${line.reply.from}: ` : "↳ a message no longer here";
    const said = document.createElement("bdi");
    said.textContent = line.reply.text || "";
    quote.append(who, said);
    item.prepend(quote);
  }
  const text = document.createElement("bdi");
  appendLinkified(text, line.text);
  item.append(text);
  if (line.edited) {
    const mark = document.createElement("span");
    mark.className = "edited";
    mark.textContent = " (edited)";
    mark.title = `edited ${new Date(line.edited).toLocaleString()}`;
    item.append(mark);
  }
  if (line.id && (line.kind === "message" || line.kind === "action" || line.kind === "notice")) {
    item.append(reactionRow(line), messageActions(line));
    // Touch screens have no hover: a tap on the message shows its actions.
    item.addEventListener("click", (event) => {
      if (event.target.closest("button, a")) return;
      item.classList.toggle("show-actions");
    });
  }
  return item;
}

// Reactions under a message: each emoji with its count (who, on hover); one's own is pressed, and a click takes it
// back or adds it.
function reactionRow(line) {
  const row = document.createElement("div");
  row.className = "reactions";
  for (const reaction of line.reactions || []) {
    const button = document.createElement("button");
    button.type = "button";
    const mine = reaction.names.some((name) => same(name, state.confirmed));
    button.setAttribute("aria-pressed", String(mine));
    button.textContent = `${reaction.emoji} ${reaction.names.length}`;
    button.title = reaction.names.join(", ");
    button.addEventListener("click", () => react(line, reaction.emoji, !mine));
    row.append(button);
  }
  return row;
}

// Reply, react (a small picker), and for one's own messages edit and delete (delete asks once more).
function messageActions(line) {
  const bar = document.createElement("div");
  bar.className = "actions";
  const action = (label, title, handler) => {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = label;
    button.title = title;
    button.setAttribute("aria-label", title);
    button.addEventListener("click", handler);
    bar.append(button);
    return button;
  };
  action("↩", "Reply", () => startReply(line));
  for (const emoji of REACTIONS) action(emoji, `React ${emoji}`, () => react(line, emoji, true));
  if (line.own) {
    action("✎", "Edit", () => startEdit(line));
    // Asked once more: the first click arms it for a few seconds (kept in the state: the log is redrawn as
    // messages come), the second deletes.
    const armed = state.armedDelete === line.id;
    const remove = action(armed ? "Delete?" : "🗑", "Delete", () => {
      if (state.armedDelete === line.id) {
        state.armedDelete = null;
        return send({ op: "delete", room: line.room, msgid: line.id, id: AUTO });
      }
      state.armedDelete = line.id;
      remove.textContent = "Delete?";
      setTimeout(() => { if (state.armedDelete === line.id) { state.armedDelete = null; render(); } }, 5000);
    });
  }
  return bar;
}

function react(line, emoji, on) {
  send({ op: on ? "react" : "unreact", room: line.room, msgid: line.id, emoji, id: AUTO });
}

function startReply(line) {
  state.editing = null;
  state.replyTo = { room: line.room, id: line.id, from: line.from, text: line.body || line.text };
  showComposing(`Replying in #${line.room} to ${line.from}: ${(line.body || line.text).slice(0, 80)}`);
}

function startEdit(line) {
  state.replyTo = null;
  state.editing = { room: line.room, id: line.id };
  $("input").value = line.body || line.text;
  showComposing(`Editing your message in #${line.room}`);
}

function showComposing(text) {
  $("composing-text").textContent = text;
  $("composing").hidden = false;
  $("input").focus();
}

function cancelCompose() {
  state.replyTo = null;
  state.editing = null;
  $("composing").hidden = true;
}

/// Text with http(s) links made clickable; everything else stays text.
function appendLinkified(parent, text) {
  const pattern = /\bhttps?:\/\/[^\s<>"']+/g;
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    parent.append(document.createTextNode(text.slice(last, match.index)));
    let url = null;
    try { url = new URL(match[0]); } catch (_) { url = null; }
    if (url && (url.protocol === "http:" || url.protocol === "https:")) {
      const link = document.createElement("a");
      link.href = url.href;
      link.rel = "noopener noreferrer nofollow";
      link.target = "_blank";
      link.textContent = match[0];
      parent.append(link);
    } else {
      parent.append(document.createTextNode(match[0]));
    }
    last = match.index + match[0].length;
  }
  parent.append(document.createTextNode(text.slice(last)));
}

function renderPeople() {
  const room = state.current && state.rooms.get(state.current);
  const members = room ? [...room.members.values()].sort((a, b) => a.name.localeCompare(b.name)) : [];
  const count = Math.max(room?.memberCount ?? 0, members.length);
  $("people-title").textContent = count > members.length ? `People (${members.length} of ${count})` : `People (${members.length})`;
  $("people").replaceChildren(...members.map((m) => {
    const item = document.createElement("li"), button = document.createElement("button"), dot = document.createElement("span");
    item.className = m.state === "away" ? "away" : "online";
    dot.className = "dot";
    dot.setAttribute("aria-hidden", "true");
    button.type = "button";
    const idle = m.idle > 60000 ? `, idle ${Math.round(m.idle / 60000)} min` : "";   // the title says it from a minute
    // Operators and voice as IRC shows them: @ and +.
    button.textContent = ({ owner: "~", operator: "@", voice: "+" }[m.role] || "") + m.name;
    button.title = (m.role ? m.role + ", " : "") + (m.state === "away" ? `away${m.away ? ": " + m.away : ""}` : "online") + idle;
    button.setAttribute("aria-label", `${m.name}, ${button.title}; actions`);
    button.setAttribute("aria-haspopup", "menu");
    button.addEventListener("click", () => { state.menuFor = same(state.menuFor, m.name) ? null : m.name; renderPeople(); });
    item.append(dot, button);
    if (same(state.menuFor, m.name)) item.append(personMenu(m));
    if (m.state === "away") item.append(document.createTextNode(" (away)"));
    if (m.bot) item.append(document.createTextNode(" (bot)"));
    if (m.idle > 300000) {
      const idleNote = document.createElement("span");
      idleNote.className = "idle";
      idleNote.textContent = ` idle ${Math.round(m.idle / 60000)} min`;
      item.append(idleNote);
    }
    return item;
  }));
}

// What one may do to a person from the member list: a direct message; and, for the room's operators, what
// operators do (docs/moderation.md), sent as the commands a person would type.
function personMenu(person) {
  const room = state.rooms.get(state.current);
  const me = room && room.members.get((state.confirmed || "").toLowerCase());
  const name = person.name;
  const actions = [["Message", () => { $("input").value = `/msg ${name} `; $("input").focus(); }]];
  if (!same(name, state.confirmed)) actions.push(["Block", () => command(`/block ${name}`)]);
  if (moderates(me) && !same(name, state.confirmed) && person.role !== "owner") {
    actions.push(
      ["Kick", () => command(`/kick ${name}`)],
      ["Ban", () => command(`/ban ${name}`)],
      ["Mute 10 min", () => command(`/mute ${name} 10m`)],
      person.role === "operator" ? ["Take operator", () => command(`/deop ${name}`)] : ["Make operator", () => command(`/op ${name}`)],
      person.role === "voice" ? ["Take voice", () => command(`/devoice ${name}`)] : ["Give voice", () => command(`/voice ${name}`)]);
  }
  if (me?.role === "owner" && !same(name, state.confirmed)) actions.push(["Give the room to them", () => command(`/room transfer ${name}`)]);
  const menu = document.createElement("div");
  menu.className = "person-menu";
  menu.setAttribute("role", "menu");
  menu.setAttribute("aria-label", `Actions for ${name}`);
  for (const [label, act] of actions) {
    const item = document.createElement("button");
    item.type = "button";
    item.setAttribute("role", "menuitem");
    item.textContent = label;
    item.addEventListener("click", () => { state.menuFor = null; renderPeople(); act(); });
    menu.append(item);
  }
  return menu;
}

// A line as if typed, in the room shown (the server parses it as text mode does).
function command(text) { send({ op: "command", text, room: state.current, id: "u" + (++state.requests) }); }

// The room settings panel: the settings and (for operators) the ban list, as the server says they are; saving
// sends the changes in IRC's mode syntax, all or none.
const FLAGS = { "invite-only": "i", "moderated": "m", "topic-locked": "t", "registered-only": "R", "secret": "s" };
// Room roles by IRC's mode letter, highest first (docs/moderation.md); an owner moderates as an operator does.
const ROLES = { q: "owner", o: "operator", v: "voice" };
const rank = (role) => ({ owner: 3, operator: 2, voice: 1 })[role] || 0;
const moderates = (person) => rank(person?.role) >= 2;
function openSettings() {
  if (!state.current) return;
  state.settingsFor = state.current;
  $("settings").hidden = false;
  $("settings-button").setAttribute("aria-expanded", "true");
  $("bans-list").replaceChildren();
  send({ op: "mode", room: state.current, id: SETTINGS });
  const room = state.rooms.get(state.current);
  const me = room && room.members.get((state.confirmed || "").toLowerCase());
  if (moderates(me)) send({ op: "bans", room: state.current, id: SETTINGS });
  send({ op: "room-info", room: state.current, id: SETTINGS });
}
function closeSettings() {
  state.settingsFor = null;
  $("settings").hidden = true;
  $("settings-button").setAttribute("aria-expanded", "false");
}
function showSettings(event) {
  const room = state.rooms.get(event.room);
  const me = room && room.members.get((state.confirmed || "").toLowerCase());
  const operator = moderates(me);
  state.shownSettings = event;
  for (const [word, letter] of Object.entries(FLAGS)) $("flag-" + letter).checked = event.flags.includes(word);
  $("settings-key").value = event.key && event.key !== "*" ? event.key : "";
  $("settings-limit").value = event.limit || "";
  $("settings-fields").disabled = !operator;
  $("bans-title").hidden = $("bans-list").hidden = !operator;   // the ban list is the operators'
  $("settings-note").textContent = operator ? `#${event.room}: you are its operator` : `#${event.room}: only its operators change these`;
}
// A registered room (docs/moderation.md): who owns it; its operator may register it, its owner give it up.
function showRegistration(event) {
  const room = state.rooms.get(event.room);
  const me = room && room.members.get((state.confirmed || "").toLowerCase());
  $("registration").textContent = event.owner
    ? `Registered to ${event.owner}${event.since ? " since " + new Date(event.since).toLocaleString() : ""}: it keeps its operators, settings and bans while empty`
    : "Not registered: it forgets its operators, settings and bans when the last person leaves";
  const button = $("registration-button");
  button.hidden = !(event.owner ? me?.role === "owner" : moderates(me));
  button.textContent = event.owner ? "Unregister the room" : "Register the room";
  button.onclick = () => {
    send({ op: event.owner ? "room-unregister" : "room-register", room: event.room, id: SETTINGS });
    send({ op: "room-info", room: event.room, id: SETTINGS });
  };
}
function showBans(event) {
  $("bans-list").replaceChildren(...event.bans.map((ban) => {
    const item = document.createElement("li"), lift = document.createElement("button");
    item.textContent = `${ban.mask} by ${ban.by}${ban.until ? ", until " + new Date(ban.until).toLocaleString() : ""}${ban.reason ? ": " + ban.reason : ""} `;
    lift.type = "button";
    lift.textContent = "Lift";
    const mute = /^m:([^!]+)/.exec(ban.mask);
    lift.addEventListener("click", () => {
      send(mute ? { op: "unmute", room: event.room, name: mute[1], id: SETTINGS } : { op: "unban", room: event.room, name: ban.mask, id: SETTINGS });
      send({ op: "bans", room: event.room, id: SETTINGS });
    });
    item.append(lift);
    return item;
  }));
  if (!event.bans.length) $("bans-list").replaceChildren(Object.assign(document.createElement("li"), { textContent: "nobody" }));
}
function saveSettings() {
  const was = state.shownSettings;
  if (!was || was.room !== state.settingsFor) return;
  const changes = [];   // [mode, argument or null]
  for (const [word, letter] of Object.entries(FLAGS)) {
    const on = $("flag-" + letter).checked;
    if (on !== was.flags.includes(word)) changes.push([(on ? "+" : "-") + letter, null]);
  }
  const key = $("settings-key").value.trim(), oldKey = was.key && was.key !== "*" ? was.key : "";
  if (key !== oldKey) changes.push(key ? ["+k", key] : ["-k", null]);
  const limit = $("settings-limit").value.trim(), oldLimit = was.limit ? String(was.limit) : "";
  if (limit !== oldLimit) changes.push(limit ? ["+l", limit] : ["-l", null]);
  // At most 6 changes a request (the server's MODES=6): more go in a second.
  for (let start = 0; start < changes.length; start += 6) {
    const part = changes.slice(start, start + 6);
    send({ op: "mode", room: was.room, modes: part.map((c) => c[0]).join(""), args: part.filter((c) => c[1] !== null).map((c) => c[1]), id: SETTINGS });
  }
  if (changes.length) send({ op: "mode", room: was.room, id: SETTINGS });
}

function renderTyping() {
  const room = state.current && state.rooms.get(state.current);
  const now = Date.now();
  const names = room ? [...room.typing.values()].filter((t) => now - t.at < TYPING_SHOWN_MS).map((t) => t.name) : [];
  $("typing").textContent = names.length === 0 ? "" : names.length === 1 ? `${names[0]} is typing…` : `${names.slice(0, 3).join(", ")} are typing…`;
}

// --- notifications, once allowed ---
function notify(title, body) {
  if (!("Notification" in window) || Notification.permission !== "granted") return;
  if (!document.hidden && document.hasFocus()) return;
  try { new Notification(title, { body }); } catch (_) { /* some browsers only allow them from a service worker */ }
}

// --- what the user does ---
function showLogin(reason, askPassword = false) {
  $("chat").hidden = state.order.length === 0;
  $("login").hidden = false;
  $("login-error").textContent = reason || "";
  $("password-row").hidden = !askPassword;
  $("password").value = "";
  if (askPassword) { $("name").value = state.name || ""; $("password").focus(); } else $("name").focus();
}

// A typed line goes to the server as it was typed: the server parses it as text mode does (one parser for every
// client), in the room shown here. Only switching to a room already joined is the page's own business.
function submitLine(text) {
  if (state.editing && !text.startsWith("/")) {
    send({ op: "edit", room: state.editing.room, msgid: state.editing.id, text, id: USER + (++state.requests) });
    return cancelCompose();
  }
  if (state.replyTo && !text.startsWith("/")) {
    send({ op: "say", room: state.replyTo.room, text, reply: state.replyTo.id, id: USER + (++state.requests) });
    return cancelCompose();
  }
  const switchTo = /^\/j(?:oin)?\s+#?(\S+)\s*$/i.exec(text);
  if (switchTo && state.rooms.has(switchTo[1].toLowerCase())) return select(switchTo[1].toLowerCase());
  if (!text.startsWith("/") && !state.current) return info("You are in no room; /join one first.");
  send({ op: "command", text, room: state.current || undefined, id: USER + (++state.requests) });
}

// --- search: the panel lists what was found; a result opens in its room's history, read around it ---
function search(text, page) {
  state.search = { text, page, results: page > 1 && state.search ? state.search.results : [] };
  send({ op: "search", text, page, id: SEARCH });
}

function showResults(event) {
  const page = event.page || 1;
  if (!state.search || state.search.text !== event.text || page === 1) state.search = { text: event.text, page, results: [] };
  state.search.page = page;
  state.search.results.push(...event.messages);
  $("results").hidden = false;
  const count = state.search.results.length;
  $("results-title").textContent = count === 0 ? `Nothing found for “${event.text}”` : `Found for “${event.text}”, best first`;
  $("results-list").replaceChildren(...state.search.results.map((message) => {
    const item = document.createElement("li"), button = document.createElement("button");
    button.type = "button";
    const where = document.createElement("span");
    where.className = "where";
    // A direct message (one's own, sent or received) has no room to open: it is shown whole here.
    const direct = message.type === "direct";
    where.textContent = `${direct ? "direct" : "#" + message.room} · ${new Date(message.time).toLocaleString()} · `;
    // Names and texts from people are isolated, as in the log.
    const from = document.createElement("bdi"), text = document.createElement("bdi");
    from.textContent = direct ? `${message.from} → ${message.to}: ` : `${message.from}: `;
    text.textContent = message.text;
    button.append(where, from, text);
    if (direct) button.disabled = true; else button.addEventListener("click", () => openResult(message));
    item.append(button);
    return item;
  }));
  $("results-more").hidden = !event.more;
}

function openResult(message) {
  if (!state.rooms.has(message.room)) { info(`You are no longer in #${message.room}: /join it to read around that message`); return; }
  state.found = message.msgid;
  select(message.room);
  if (!showFound()) {
    // The messages up to and including it (history reads on into the archive); "Load older" goes further back.
    const [ms, seq] = message.msgid.split("-");
    send({ op: "history", room: message.room, limit: 25, before: `${ms}-${Number(seq) + 1}`, id: CONTEXT + message.msgid });
  }
}

// Scrolls the opened search result into view; false when the log does not have it (yet).
function showFound() {
  const item = state.found && [...$("log").children].find((element) => element.dataset.id === state.found);
  if (!item) return false;
  item.classList.add("found");
  item.scrollIntoView({ block: "center" });
  return true;
}

function loadOlder() {
  const room = state.current && state.rooms.get(state.current);
  if (!room || room.olderPending || room.olderExhausted) return;
  room.olderPending = true;
  // A room showing no message yet (its Redis history expired) asks for the newest: the server reads on into the
  // archive from there.
  const request = { op: "history", room: state.current, limit: 50, id: OLDER };
  if (room.oldestId) request.before = room.oldestId;
  send(request);
}

document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") scheduleMarkRead(); });

document.addEventListener("DOMContentLoaded", () => {
  $("login").addEventListener("submit", (event) => {
    event.preventDefault();
    state.name = $("name").value.trim();
    if (!state.name) return;
    state.password = $("password-row").hidden ? null : $("password").value || null;
    $("password").value = "";
    $("login-error").textContent = "";
    if (state.ws && state.ws.readyState === WebSocket.OPEN) hello(state.name); else if (!state.ws) connect();
  });
  $("composing-cancel").addEventListener("click", () => { cancelCompose(); $("input").value = ""; });
  $("input").addEventListener("keydown", (event) => {
    if (event.key === "Escape" && (state.replyTo || state.editing)) { cancelCompose(); $("input").value = ""; }
  });
  $("compose").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("input").value;
    if (!text.trim()) return;
    if (!state.ws || state.ws.readyState !== WebSocket.OPEN) {
      setStatus("Not connected right now; your message is kept. Send it again once reconnected.", true);
      return;
    }
    $("input").value = "";
    submitLine(text);
  });
  $("input").addEventListener("input", () => {
    const text = $("input").value, room = state.current;
    if (!room || !text || text.startsWith("/")) return;
    const last = state.typingSent.get(room) || 0;
    if (Date.now() - last < TYPING_SEND_MS) return;
    state.typingSent.set(room, Date.now());
    send({ op: "typing", room, id: AUTO });
  });
  $("join").addEventListener("submit", (event) => {
    event.preventDefault();
    const room = $("join-room").value.trim();
    if (room) submitLine("/join " + room);
    $("join-room").value = "";
  });
  $("settings-button").addEventListener("click", () => { if (state.settingsFor) closeSettings(); else openSettings(); });
  $("settings-close").addEventListener("click", closeSettings);
  $("settings").addEventListener("submit", (event) => { event.preventDefault(); saveSettings(); });
  $("leave").addEventListener("click", () => { if (state.current) send({ op: "leave", room: state.current, id: "u" + (++state.requests) }); });
  $("older").addEventListener("click", loadOlder);
  $("search").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("search-text").value.trim();
    if (text) search(text, 1);
  });
  $("results-more").addEventListener("click", () => { if (state.search) search(state.search.text, state.search.page + 1); });
  $("results-close").addEventListener("click", () => { $("results").hidden = true; state.found = null; render(); });
  // Removing one's messages from the archive cannot be undone: the button asks twice.
  $("forget").addEventListener("click", () => {
    const button = $("forget");
    if (button.dataset.armed !== "1") {
      button.dataset.armed = "1";
      button.textContent = "Click again: remove every message you sent from the archive, for good";
      // Disarmed again if the second click does not come soon.
      setTimeout(() => { delete button.dataset.armed; button.textContent = "Remove my messages from the archive"; }, 5000);
      return;
    }
    delete button.dataset.armed;
    button.textContent = "Remove my messages from the archive";
    send({ op: "forget", confirm: true, id: "u" + (++state.requests) });
  });
  $("log").addEventListener("scroll", () => { if ($("log").scrollTop === 0) loadOlder(); });
  // Alt+Up / Alt+Down switch rooms from the keyboard.
  document.addEventListener("keydown", (event) => {
    if (!event.altKey || (event.key !== "ArrowUp" && event.key !== "ArrowDown") || state.order.length === 0) return;
    const index = Math.max(0, state.order.indexOf(state.current)), step = event.key === "ArrowUp" ? -1 : 1;
    select(state.order[(index + step + state.order.length) % state.order.length]);
    event.preventDefault();
  });
  if ("Notification" in window && Notification.permission === "default") {
    $("notify").hidden = false;
    $("notify").addEventListener("click", () => Notification.requestPermission().then(() => { $("notify").hidden = true; }));
  }
  setInterval(renderTyping, 1000);
  // Idle times and the people of large (quiet) rooms: refreshed now and then.
  setInterval(() => { for (const room of state.order) send({ op: "who", room, id: AUTO }); }, 30000);
  // A reload of a tab that was chatting takes its name back with the tab's resume token.
  try { state.name = (JSON.parse(sessionStorage.getItem(RESUME_KEY) || "null") || {}).name || null; } catch (_) { }
  connect();
});
