// The page's own words (the bot's come translated from the bot). English, Russian, Ukrainian.
"use strict";

const UI_STRINGS = {
  en: {
    title: "Sosedi playground",
    subtitle: "The bot without Telegram",
    personas: "Who you are",
    clock: "Playground time",
    clockHint: "Reminders and news due in the skipped time arrive at once.",
    ahead: "{t} ahead of real time",
    realTime: "real time",
    plus15m: "+15 min",
    plus1h: "+1 hour",
    plus1d: "+1 day",
    clockMoved: "The clock moved forward: {t}",
    language: "Page language",
    bot: "bot",
    start: "START",
    message: "Message",
    send: "Send",
    cancel: "Cancel",
    commands: "Commands",
    shareLocation: "Share location",
    location: "Location",
    mapHint: "No map tiles offline: the dots are the demo centers. Pick a city, then click any point, or type the coordinates.",
    allCities: "All cities",
    latitude: "Latitude",
    longitude: "Longitude",
    pickPoint: "Click the map to choose a point",
    openMap: "Open in OpenStreetMap",
    download: "Download",
    edited: "edited",
    keyboard: "Keyboard",
    today: "Today",
    noUsers: "No users yet: create them through the control API.",
    unsupported: "This button does nothing in the playground",
    failed: "Failed: {error}",
    role_newcomer: "new resident",
    role_resident: "resident",
    role_volunteer: "volunteer",
    role_coordinator: "coordinator",
    role_admin: "admin",
    role_user: "user",
    coordinatorOf: "coordinator · {center}",
    copied: "Copied",
    contact: "Contact",
  },
  ru: {
    title: "Песочница «Соседей»",
    subtitle: "Бот без Telegram",
    personas: "Кто вы",
    clock: "Время песочницы",
    clockHint: "Напоминания и новости, чьё время прошло, приходят сразу.",
    ahead: "на {t} впереди",
    realTime: "реальное время",
    plus15m: "+15 мин",
    plus1h: "+1 час",
    plus1d: "+1 день",
    clockMoved: "Часы переведены вперёд: {t}",
    language: "Язык страницы",
    bot: "бот",
    start: "НАЧАТЬ",
    message: "Сообщение",
    send: "Отправить",
    cancel: "Отмена",
    commands: "Команды",
    shareLocation: "Отправить геопозицию",
    location: "Геопозиция",
    mapHint: "Карты офлайн нет: точки — демо-центры. Выберите город и щёлкните в любом месте или введите координаты.",
    allCities: "Все города",
    latitude: "Широта",
    longitude: "Долгота",
    pickPoint: "Щёлкните по карте, чтобы выбрать точку",
    openMap: "Открыть в OpenStreetMap",
    download: "Скачать",
    edited: "изменено",
    keyboard: "Клавиатура",
    today: "Сегодня",
    noUsers: "Пользователей пока нет: создайте их через control API.",
    unsupported: "В песочнице эта кнопка ничего не делает",
    failed: "Не получилось: {error}",
    role_newcomer: "новый житель",
    role_resident: "житель",
    role_volunteer: "волонтёр",
    role_coordinator: "координатор",
    role_admin: "администратор",
    role_user: "пользователь",
    coordinatorOf: "координатор · {center}",
    copied: "Скопировано",
    contact: "Контакт",
  },
  uk: {
    title: "Пісочниця «Сусідів»",
    subtitle: "Бот без Telegram",
    personas: "Хто ви",
    clock: "Час пісочниці",
    clockHint: "Нагадування й новини, чий час минув, приходять одразу.",
    ahead: "на {t} попереду",
    realTime: "реальний час",
    plus15m: "+15 хв",
    plus1h: "+1 год",
    plus1d: "+1 день",
    clockMoved: "Годинник переведено вперед: {t}",
    language: "Мова сторінки",
    bot: "бот",
    start: "ПОЧАТИ",
    message: "Повідомлення",
    send: "Надіслати",
    cancel: "Скасувати",
    commands: "Команди",
    shareLocation: "Надіслати геопозицію",
    location: "Геопозиція",
    mapHint: "Мапи офлайн немає: точки — демо-центри. Оберіть місто й клацніть будь-де або введіть координати.",
    allCities: "Усі міста",
    latitude: "Широта",
    longitude: "Довгота",
    pickPoint: "Клацніть по мапі, щоб обрати точку",
    openMap: "Відкрити в OpenStreetMap",
    download: "Завантажити",
    edited: "змінено",
    keyboard: "Клавіатура",
    today: "Сьогодні",
    noUsers: "Користувачів поки немає: створіть їх через control API.",
    unsupported: "У пісочниці ця кнопка нічого не робить",
    failed: "Не вдалося: {error}",
    role_newcomer: "новий мешканець",
    role_resident: "мешканець",
    role_volunteer: "волонтер",
    role_coordinator: "координатор",
    role_admin: "адміністратор",
    role_user: "користувач",
    coordinatorOf: "координатор · {center}",
    copied: "Скопійовано",
    contact: "Контакт",
  },
};

const UI_LANGUAGES = Object.keys(UI_STRINGS);

function pickUiLanguage() {
  const saved = localStorage.getItem("playground.language");
  if (UI_LANGUAGES.includes(saved)) return saved;
  const browser = (navigator.language || "en").slice(0, 2).toLowerCase();
  return UI_LANGUAGES.includes(browser) ? browser : "en";
}

let uiLanguage = pickUiLanguage();

function t(key, values) {
  const text = UI_STRINGS[uiLanguage][key] ?? UI_STRINGS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(values?.[name] ?? ""));
}

function setUiLanguage(language) {
  uiLanguage = UI_LANGUAGES.includes(language) ? language : "en";
  localStorage.setItem("playground.language", uiLanguage);
  document.documentElement.lang = uiLanguage;
  for (const node of document.querySelectorAll("[data-t]")) node.textContent = t(node.dataset.t);
  for (const node of document.querySelectorAll("[data-t-title]")) {
    node.title = t(node.dataset.tTitle);
    node.setAttribute("aria-label", node.title);
  }
  for (const node of document.querySelectorAll("[data-t-placeholder]")) {
    node.placeholder = t(node.dataset.tPlaceholder);
  }
}

function durationText(seconds) {
  const units = {
    en: ["d", "h", "min"],
    ru: ["д", "ч", "мин"],
    uk: ["д", "год", "хв"],
  }[uiLanguage];
  const days = Math.floor(seconds / 86400);
  const hours = Math.floor((seconds % 86400) / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  const parts = [];
  if (days) parts.push(`${days} ${units[0]}`);
  if (hours) parts.push(`${hours} ${units[1]}`);
  if (minutes || !parts.length) parts.push(`${minutes} ${units[2]}`);
  return parts.join(" ");
}
