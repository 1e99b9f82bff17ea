// Messages drawn as Telegram's apps draw them: the plain text plus its entities, built node by
// node with textContent. Nothing in a message is ever parsed as HTML, so nothing in it can
// inject markup or script, whatever the bot (or a user) sent.
"use strict";

const SAFE_SCHEMES = new Set(["http:", "https:", "mailto:", "tel:", "tg:"]);

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

function safeUrl(raw) {
  const value = String(raw || "").trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:/i.test(value) ? value : `https://${value}`;
  try {
    const url = new URL(withScheme);
    return SAFE_SCHEMES.has(url.protocol) ? url : null;
  } catch {
    return null;
  }
}

// A link to this bot with a start payload (a QR poster's link) opens the chat with /start.
function startPayload(url, botUsername) {
  if (!url || !botUsername) return null;
  const host = url.hostname.replace(/^www\./, "");
  if (!["t.me", "telegram.me"].includes(host)) return null;
  if (url.pathname.replace(/\//g, "").toLowerCase() !== botUsername.toLowerCase()) return null;
  return url.searchParams.get("start") ?? "";
}

function linkNode(raw, text, ctx) {
  const url = safeUrl(raw);
  if (!url) return el("span", "link", text);
  const link = el("a", "link", text);
  link.href = url.href;
  const payload = startPayload(url, ctx.botUsername);
  if (payload !== null) {
    link.addEventListener("click", (event) => {
      event.preventDefault();
      ctx.sendText(payload ? `/start ${payload}` : "/start");
    });
  } else {
    link.target = "_blank";
    link.rel = "noopener noreferrer";
  }
  return link;
}

function entityNode(entity, text, ctx) {
  switch (entity.type) {
    case "bold":
      return el("b");
    case "italic":
      return el("i");
    case "underline":
      return el("u");
    case "strikethrough":
      return el("s");
    case "spoiler": {
      const node = el("span", "spoiler");
      node.addEventListener("click", () => node.classList.add("revealed"));
      return node;
    }
    case "code":
      return el("code");
    case "pre":
      return el("pre");
    case "blockquote":
    case "expandable_blockquote":
      return el("blockquote");
    case "text_link":
      return linkNode(entity.url, null, ctx);
    case "url":
      return linkNode(text, null, ctx);
    case "email":
      return linkNode(`mailto:${text}`, null, ctx);
    case "phone_number":
      return linkNode(`tel:${text.replace(/[^\d+]/g, "")}`, null, ctx);
    case "bot_command": {
      const node = el("a", "link command");
      node.href = "#";
      node.addEventListener("click", (event) => {
        event.preventDefault();
        ctx.sendText(text);
      });
      return node;
    }
    case "mention":
    case "hashtag":
    case "cashtag":
    case "text_mention":
      return el("span", "link");
    default:
      return el("span");
  }
}

// Telegram marks commands in any message, the bot's too; the fake server leaves that to the
// app, so plain text outside code and links gets them here.
const COMMAND_IN_TEXT = /(^|[\s(«"])(\/[A-Za-z][A-Za-z0-9_]{0,31})(?=$|[\s.,;:!?)»"])/g;
const NO_COMMANDS_INSIDE = new Set(["code", "pre", "text_link", "url", "email", "bot_command"]);

function appendPlain(parent, text, ctx, commands) {
  if (!commands) {
    parent.append(text);
    return;
  }
  let position = 0;
  for (const match of text.matchAll(COMMAND_IN_TEXT)) {
    const start = match.index + match[1].length;
    parent.append(text.slice(position, start));
    parent.append(entityNode({ type: "bot_command" }, match[2], ctx));
    parent.lastChild.textContent = match[2];
    position = start + match[2].length;
  }
  parent.append(text.slice(position));
}

// Entities nest as the HTML they came from did; offsets count UTF-16 code units, as
// JavaScript strings do.
function appendFormatted(parent, text, start, end, entities, ctx, commands = true) {
  let position = start;
  let index = 0;
  while (index < entities.length) {
    const entity = entities[index];
    const from = Math.max(entity.offset, position);
    const to = Math.min(entity.offset + entity.length, end);
    let next = index + 1;
    const inner = [];
    while (next < entities.length && entities[next].offset < to) {
      inner.push(entities[next]);
      next += 1;
    }
    if (from < to) {
      if (from > position) appendPlain(parent, text.slice(position, from), ctx, commands);
      const node = entityNode(entity, text.slice(from, to), ctx);
      const within = commands && !NO_COMMANDS_INSIDE.has(entity.type);
      appendFormatted(node, text, from, to, inner, ctx, within);
      parent.append(node);
      position = to;
    }
    index = next;
  }
  if (position < end) appendPlain(parent, text.slice(position, end), ctx, commands);
}

function formattedText(text, entities, ctx) {
  const node = el("div", "text");
  const sorted = [...(entities || [])]
    .filter((e) => Number.isInteger(e.offset) && Number.isInteger(e.length) && e.length > 0)
    .sort((a, b) => a.offset - b.offset || b.length - a.length);
  appendFormatted(node, text, 0, text.length, sorted, ctx);
  return node;
}

function timeText(seconds) {
  return new Date(seconds * 1000).toLocaleTimeString(uiLanguage, {
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  });
}

function sizeText(bytes) {
  if (bytes >= 1048576) return `${(bytes / 1048576).toFixed(1)} MB`;
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${bytes} B`;
}

function mapLink(location) {
  const lat = Number(location.latitude).toFixed(5);
  const lon = Number(location.longitude).toFixed(5);
  return `https://www.openstreetmap.org/?mlat=${lat}&mlon=${lon}#map=16/${lat}/${lon}`;
}

// No tiles offline: a small drawn map with the pin in the middle and the coordinates.
function locationNode(location, venue) {
  const box = el("div", venue ? "place venue" : "place");
  const thumb = el("div", "map-thumb");
  thumb.append(el("span", "pin", "📍"));
  const coords = `${Number(location.latitude).toFixed(5)}, ${Number(location.longitude).toFixed(5)}`;
  thumb.append(el("span", "coords", coords));
  box.append(thumb);
  if (venue) {
    box.append(el("div", "venue-title", venue.title));
    box.append(el("div", "venue-address", venue.address));
  }
  const link = el("a", "link small", t("openMap"));
  link.href = mapLink(location);
  link.target = "_blank";
  link.rel = "noopener noreferrer";
  box.append(link);
  return box;
}

function documentNode(document, ctx) {
  const box = el("div", "document");
  const name = document.file_name || "file";
  const extension = (name.split(".").pop() || "").slice(0, 4).toUpperCase();
  box.append(el("div", "doc-icon", extension || "FILE"));
  const info = el("div", "doc-info");
  const link = el("a", "doc-name", name);
  link.href = ctx.fileUrl(document.file_id);
  link.download = name;
  info.append(link);
  info.append(el("div", "doc-size", `${sizeText(document.file_size || 0)} · ${t("download")}`));
  box.append(info);
  box.addEventListener("click", (event) => {
    if (event.target !== link) link.click();
  });
  return box;
}

function inlineKeyboard(record, ctx) {
  const rows = record.reply_markup?.inline_keyboard;
  if (!rows?.length) return null;
  const keyboard = el("div", "inline-keyboard");
  for (const row of rows) {
    const line = el("div", "ik-row");
    for (const button of row) {
      const node = el("button", "ik-button", button.text);
      node.type = "button";
      if ("callback_data" in button) {
        node.addEventListener("click", () => ctx.pressInline(record, button, node));
      } else if (button.url) {
        node.classList.add("ik-url");
        node.addEventListener("click", () => {
          const url = safeUrl(button.url);
          const payload = startPayload(url, ctx.botUsername);
          if (payload !== null) ctx.sendText(payload ? `/start ${payload}` : "/start");
          else if (url) window.open(url.href, "_blank", "noopener,noreferrer");
        });
      } else if (button.copy_text) {
        node.addEventListener("click", async () => {
          await navigator.clipboard?.writeText(button.copy_text.text);
          ctx.toast(t("copied"));
        });
      } else {
        node.disabled = true;
        node.title = t("unsupported");
      }
      line.append(node);
    }
    keyboard.append(line);
  }
  return keyboard;
}

function quoteNode(record, ctx) {
  const target = record.reply_to_message_id && ctx.lookup(record.reply_to_message_id);
  if (!target) return null;
  const quote = el("div", "quote");
  quote.textContent = (target.text || target.caption || "…").slice(0, 90);
  return quote;
}

// One message: the bubble, and under it the inline keyboard.
function renderMessage(record, ctx) {
  const row = el("div", `row ${record.sender === "bot" ? "incoming" : "outgoing"}`);
  row.dataset.messageId = record.message_id;
  const bubble = el("div", "bubble");
  const quote = quoteNode(record, ctx);
  if (quote) bubble.append(quote);
  if (record.photo?.length) {
    const largest = record.photo[record.photo.length - 1];
    const image = el("img", "photo");
    image.src = ctx.fileUrl(largest.file_id);
    image.alt = record.caption || "";
    image.addEventListener("click", () => window.open(image.src, "_blank", "noopener"));
    bubble.append(image);
    bubble.classList.add("media");
  }
  if (record.document) bubble.append(documentNode(record.document, ctx));
  if (record.venue) bubble.append(locationNode(record.venue.location, record.venue));
  else if (record.location) bubble.append(locationNode(record.location, null));
  if (record.contact) {
    const contact = record.contact;
    const name = [contact.first_name, contact.last_name].filter(Boolean).join(" ");
    bubble.append(el("div", "contact", `👤 ${name} · ${contact.phone_number}`));
  }
  if (record.sticker) bubble.append(el("div", "sticker", record.sticker.emoji || "🖼"));
  const text = record.text ?? record.caption;
  if (text) bubble.append(formattedText(text, record.entities, ctx));
  const meta = el("span", "meta");
  if (record.edit_count) meta.append(el("span", "edited", t("edited")));
  meta.append(el("span", "time", timeText(record.date)));
  bubble.append(meta);
  row.append(bubble);
  const keyboard = inlineKeyboard(record, ctx);
  if (keyboard) row.append(keyboard);
  return row;
}
