// The web chat: one private chat with the bot per persona, kept up to date by long polls of
// the control API, and every tap turned into the update a Telegram app would send.
"use strict";

const state = {
  playground: null, // what /playground says, when the bot runs as the playground
  personas: [],
  current: null,
  chats: new Map(), // chat id -> {seq, messages, replyKeyboard, started, queue}
  unread: new Map(),
  seq: 0,
  clockSkew: 0, // playground time minus this browser's time, in ms
  offsetSeconds: 0,
  keyboardHidden: false,
  nodes: new Map(), // message id -> its row on screen, for the current chat
  picker: null,
};

const $ = (selector) => document.querySelector(selector);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function api(method, path, body) {
  const options = { method, headers: {} };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error || `${response.status} ${response.statusText}`);
  return data;
}

function toast(text) {
  const node = $("#toast");
  node.textContent = text;
  node.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (node.hidden = true), 3500);
}

function alertBox(text) {
  $("#alert-text").textContent = text;
  $("#alert").showModal();
}

const failed = (error) => toast(t("failed", { error: error.message }));

// -- chats ---------------------------------------------------------------------------------

function chatState(id) {
  if (!state.chats.has(id)) {
    state.chats.set(id, {
      seq: 0,
      messages: new Map(),
      replyKeyboard: null,
      started: true,
      queue: Promise.resolve(),
    });
  }
  return state.chats.get(id);
}

// Reads what changed in a chat; one read at a time per chat, so none is lost or doubled.
function refreshChat(id) {
  const chat = chatState(id);
  chat.queue = chat.queue.then(async () => {
    const view = await api("GET", `/control/chats/${id}?since=${chat.seq}`);
    chat.started = view.started;
    chat.replyKeyboard = view.reply_keyboard;
    const changed = [];
    for (const record of view.messages) {
      chat.messages.set(record.message_id, record);
      chat.seq = Math.max(chat.seq, record.seq);
      changed.push(record);
    }
    if (id === state.current) showChanges(changed);
  });
  chat.queue = chat.queue.catch(failed);
  return chat.queue;
}

function messageContext() {
  return {
    botUsername: state.playground?.bot_username,
    sendText: (text) => sendText(text),
    pressInline,
    toast,
    fileUrl: (fileId) => `/control/files/${encodeURIComponent(fileId)}`,
    lookup: (id) => chatState(state.current).messages.get(id),
  };
}

function dayText(seconds) {
  const date = new Date(seconds * 1000);
  return date.toLocaleDateString(uiLanguage, { weekday: "long", day: "numeric", month: "long" });
}

function showChanges(records) {
  const list = $("#messages");
  const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 120;
  const context = messageContext();
  for (const record of records) {
    const old = state.nodes.get(record.message_id);
    if (record.deleted) {
      old?.remove();
      state.nodes.delete(record.message_id);
      continue;
    }
    const row = renderMessage(record, context);
    if (old) {
      old.replaceWith(row);
    } else {
      const day = dayText(record.date);
      if (list.dataset.lastDay !== day) {
        list.append(el("div", "day", day));
        list.dataset.lastDay = day;
      }
      list.append(row);
    }
    state.nodes.set(record.message_id, row);
  }
  drawComposer();
  if (nearBottom || records.some((r) => r.sender === "user")) list.scrollTop = list.scrollHeight;
}

function drawChat() {
  const list = $("#messages");
  list.replaceChildren();
  delete list.dataset.lastDay;
  state.nodes.clear();
  const chat = chatState(state.current);
  const records = [...chat.messages.values()].sort((a, b) => a.message_id - b.message_id);
  showChanges(records);
  list.scrollTop = list.scrollHeight;
}

function drawComposer() {
  const chat = chatState(state.current);
  const empty = ![...chat.messages.values()].some((m) => !m.deleted);
  $("#start-bar").hidden = !(empty && !chat.started);
  $("#composer").hidden = !$("#start-bar").hidden;
  const markup = chat.replyKeyboard?.markup;
  const keyboard = $("#keyboard");
  $("#keyboard-toggle").hidden = !markup;
  $("#text").placeholder = markup?.input_field_placeholder || t("message");
  keyboard.hidden = !markup || state.keyboardHidden || !$("#start-bar").hidden;
  keyboard.replaceChildren();
  for (const row of markup?.keyboard || []) {
    const line = el("div", "rk-row");
    for (const button of row) {
      const node = el("button", "rk-button", button.text);
      node.type = "button";
      node.addEventListener("click", () => pressReply(button));
      line.append(node);
    }
    keyboard.append(line);
  }
}

// -- acting as the persona -----------------------------------------------------------------

async function act(path, body) {
  const id = state.current;
  try {
    const result = await api("POST", `/control/users/${id}/${path}`, body);
    await refreshChat(id);
    return result;
  } catch (error) {
    failed(error);
    return null;
  }
}

function sendText(text) {
  if (!text.trim()) return null;
  $("#commands").hidden = true;
  return act("send", { text });
}

async function pressReply(button) {
  if (button.request_location) {
    state.picker.open((latitude, longitude) =>
      act("press", { label: button.text, kind: "reply", latitude, longitude }),
    );
    return;
  }
  await act("press", { label: button.text, kind: "reply" });
}

async function pressInline(record, button, node) {
  node.classList.add("pending");
  const result = await act("callback", { message_id: record.message_id, data: button.callback_data });
  if (result) await showCallbackAnswer(result.callback_query_id);
  node.classList.remove("pending");
}

// The bot answers every callback query; a text in the answer pops up as Telegram shows it.
async function showCallbackAnswer(queryId) {
  for (let attempt = 0; attempt < 40; attempt += 1) {
    await sleep(150);
    const queries = await api("GET", `/control/callbacks?chat_id=${state.current}`);
    const query = queries.find((q) => q.id === queryId);
    if (query?.answered) {
      const text = query.answer?.text;
      if (text) (query.answer.show_alert ? alertBox : toast)(text);
      return;
    }
  }
}

// Telegram's order: the chat's own menu, then private chats', then the default, each first
// in the person's language.
async function showCommands() {
  const box = $("#commands");
  if (!box.hidden) {
    box.hidden = true;
    return;
  }
  const persona = currentPersona();
  const lists = await api("GET", "/control/commands").catch(() => []);
  const scopes = [
    (s) => s.type === "chat" && String(s.chat_id) === String(state.current),
    (s) => s.type === "all_private_chats",
    (s) => s.type === "default",
  ];
  let commands = [];
  for (const matches of scopes) {
    const found = lists.filter((entry) => matches(entry.scope));
    const chosen =
      found.find((entry) => entry.language_code === persona?.language) ||
      found.find((entry) => !entry.language_code);
    if (chosen) {
      commands = chosen.commands;
      break;
    }
  }
  box.replaceChildren();
  for (const command of commands) {
    const item = el("button", "command-item");
    item.type = "button";
    item.append(el("span", "command-name", `/${command.command}`));
    item.append(el("span", "command-description", command.description));
    item.addEventListener("click", () => sendText(`/${command.command}`));
    box.append(item);
  }
  box.hidden = !commands.length;
}

// -- personas ------------------------------------------------------------------------------

function currentPersona() {
  return state.personas.find((p) => p.id === state.current);
}

function roleText(persona) {
  if (persona.role === "coordinator" && persona.center) {
    return t("coordinatorOf", { center: persona.center });
  }
  return t(`role_${persona.role}`);
}

const AVATAR_COLORS = ["#e17076", "#7bc862", "#65aadd", "#a695e7", "#ee7aae", "#6ec9cb", "#faa774"];

function avatar(persona, className) {
  const node = el("div", `avatar ${className || ""}`, persona.name.slice(0, 1).toUpperCase());
  node.style.background = AVATAR_COLORS[Math.abs(persona.id) % AVATAR_COLORS.length];
  return node;
}

function drawPersonas() {
  const list = $("#personas");
  list.replaceChildren();
  if (!state.personas.length) list.append(el("li", "hint", t("noUsers")));
  for (const persona of state.personas) {
    const item = el("li", "persona");
    item.dataset.id = persona.id;
    item.classList.toggle("active", persona.id === state.current);
    item.append(avatar(persona));
    const text = el("div", "persona-text");
    const name = el("div", "persona-name", persona.name);
    if (persona.language) name.append(el("span", "language", persona.language.toUpperCase()));
    text.append(name);
    text.append(el("div", "persona-role", roleText(persona)));
    item.append(text);
    const unread = state.unread.get(persona.id) || 0;
    if (unread) item.append(el("span", "unread", String(unread)));
    item.addEventListener("click", () => selectPersona(persona.id));
    list.append(item);
  }
}

async function selectPersona(id) {
  state.current = id;
  state.unread.delete(id);
  state.keyboardHidden = false;
  $("#commands").hidden = true;
  history.replaceState(null, "", `#${id}`);
  const persona = currentPersona();
  $("#me").replaceChildren();
  if (persona) {
    $("#me").append(el("span", "me-name", persona.name), el("span", "me-role", roleText(persona)));
    $("#me").prepend(avatar(persona, "small"));
  }
  drawPersonas();
  drawChat();
  await refreshChat(id);
  $("#text").focus();
}

// Every chat is watched at once: the current one is redrawn, the others count what is new.
async function watch() {
  for (;;) {
    try {
      const activity = await api("GET", `/control/activity?since=${state.seq}&wait=25`);
      if (activity.seq < state.seq) {
        location.reload(); // the server started afresh
        return;
      }
      let counted = false;
      for (const chat of activity.chats) {
        if (chat.chat_id === state.current) {
          refreshChat(chat.chat_id);
        } else if (chat.new_from_bot) {
          state.unread.set(chat.chat_id, (state.unread.get(chat.chat_id) || 0) + chat.new_from_bot);
          counted = true;
        }
      }
      state.seq = activity.seq;
      if (counted) drawPersonas();
      document.body.classList.remove("offline");
    } catch {
      document.body.classList.add("offline");
      await sleep(2000);
    }
  }
}

// -- the clock -----------------------------------------------------------------------------

function setClock(clock) {
  state.clockSkew = Date.parse(clock.now) - Date.now();
  state.offsetSeconds = clock.offset_seconds;
  drawClock();
}

function drawClock() {
  const now = new Date(Date.now() + state.clockSkew);
  $("#clock-now").textContent = now.toLocaleString(uiLanguage, {
    weekday: "short",
    day: "numeric",
    month: "short",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  });
  $("#clock-offset").textContent = state.offsetSeconds
    ? t("ahead", { t: durationText(state.offsetSeconds) })
    : t("realTime");
}

async function moveClock(minutes, button) {
  button.disabled = true;
  try {
    const answer = await api("POST", "/playground/clock", { minutes });
    setClock(answer.clock);
    toast(t("clockMoved", { t: durationText(minutes * 60) }));
  } catch (error) {
    failed(error);
  } finally {
    button.disabled = false;
  }
}

// -- start ---------------------------------------------------------------------------------

function wire() {
  $("#composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("#text");
    const text = input.value;
    input.value = "";
    sendText(text);
  });
  $("#start-button").addEventListener("click", () => sendText("/start"));
  $("#menu-button").addEventListener("click", () => showCommands().catch(failed));
  $("#location-button").addEventListener("click", () =>
    state.picker.open((latitude, longitude) => act("send", { location: { latitude, longitude } })),
  );
  $("#keyboard-toggle").addEventListener("click", () => {
    state.keyboardHidden = !state.keyboardHidden;
    drawComposer();
  });
  for (const button of document.querySelectorAll("[data-minutes]")) {
    button.addEventListener("click", () => moveClock(Number(button.dataset.minutes), button));
  }
  const language = $("#ui-language");
  language.value = uiLanguage;
  language.addEventListener("change", () => {
    setUiLanguage(language.value);
    drawPersonas();
    drawClock();
    if (state.current !== null) selectPersona(state.current);
  });
}

async function main() {
  setUiLanguage(uiLanguage);
  wire();
  try {
    state.playground = await api("GET", "/playground");
  } catch {
    state.playground = null; // a bare fake server: its users are the personas
  }
  if (state.playground) {
    state.personas = state.playground.personas;
    setClock(state.playground.clock);
    $("#clock-panel").hidden = false;
    setInterval(drawClock, 1000);
    setInterval(async () => {
      const fresh = await api("GET", "/playground").catch(() => null);
      if (fresh) setClock(fresh.clock);
    }, 15000);
  } else {
    const users = await api("GET", "/control/users");
    state.personas = users.map((u) => ({
      id: u.id,
      name: u.first_name,
      language: u.language_code,
      role: "user",
    }));
  }
  state.picker = new LocationPicker($("#location-dialog"), state.playground || {});
  // What came before the page opened counts as unread, as in any Telegram app.
  const activity = await api("GET", "/control/activity?since=0");
  state.seq = activity.seq;
  for (const chat of activity.chats) {
    if (chat.new_from_bot) state.unread.set(chat.chat_id, chat.new_from_bot);
  }
  const wanted = Number(location.hash.slice(1));
  const first = state.personas.find((p) => p.id === wanted) || state.personas[0];
  if (first) await selectPersona(first.id);
  else drawPersonas();
  document.body.classList.add("ready");
  watch();
}

document.addEventListener("DOMContentLoaded", () => main().catch(failed));
