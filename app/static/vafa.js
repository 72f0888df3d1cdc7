// Vafa's own small script: no framework, no CDN. Each block wires one page.
"use strict";

const csrfToken = () => document.querySelector('meta[name="csrf-token"]').content;

// The menu's groups (base.html) open one at a time, by their name; a click elsewhere,
// tabbing out of it or Escape closes the open one, as any menu would.
const openMenuGroup = () => document.querySelector(".menu-group[open]");
document.addEventListener("click", (event) => {
  const group = openMenuGroup();
  if (group && !group.contains(event.target)) group.open = false;
});
document.querySelectorAll(".menu-group").forEach((group) => {
  group.addEventListener("focusout", (event) => {
    if (event.relatedTarget && !group.contains(event.relatedTarget)) group.open = false;
  });
});
document.addEventListener("keydown", (event) => {
  const group = openMenuGroup();
  if (event.key !== "Escape" || !group) return;
  const focusWasInside = group.contains(document.activeElement);
  group.open = false;
  if (focusWasInside) group.querySelector("summary").focus();
});

// Progress bars take their width from data-percent: the Content-Security-Policy refuses
// style="" attributes in pages, while a script may still set a style.
document.querySelectorAll(".progressbar-fill[data-percent]").forEach((bar) => {
  bar.style.inlineSize = `${bar.dataset.percent}%`;
});

// Contacts: a checkbox that selects every row.
document.querySelectorAll("[data-select-all]").forEach((box) => {
  box.addEventListener("change", () => {
    box.closest("form").querySelectorAll('input[name="contact_ids"]')
      .forEach((item) => { item.checked = box.checked; });
  });
});

// Placeholder chips put their placeholder into the form's message text, at the cursor.
document.querySelectorAll("form").forEach((form) => {
  const text = form.querySelector('textarea[name="body"]');
  form.querySelectorAll("[data-insert]").forEach((chip) => {
    chip.addEventListener("click", () => {
      const start = text.selectionStart ?? text.value.length;
      const end = text.selectionEnd ?? start;
      text.setRangeText(chip.dataset.insert, start, end, "end");
      text.focus();
      text.dispatchEvent(new Event("input"));
    });
  });
});

// The template editor names an unknown or malformed placeholder as it is typed, with the
// same check as the compose page (its preview endpoint).
const templateForm = document.querySelector("form[data-check-url]");
if (templateForm) {
  const text = templateForm.querySelector('textarea[name="body"]');
  const problems = document.getElementById("placeholder-problems");
  let timer = null;
  let latest = 0;
  async function check() {
    const ticket = ++latest;
    const form = new FormData();
    form.append("body", text.value);
    const response = await fetch(templateForm.dataset.checkUrl, {
      method: "POST", body: form, headers: { "X-CSRFToken": csrfToken() },
    });
    if (!response.ok || ticket !== latest) return;
    const data = await response.json();
    problems.textContent = data.problems.join("\n");
    problems.hidden = data.problems.length === 0;
  }
  text.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(check, 250); });
}

// Compose: the live counter and the preview, both rendered by the server (one
// implementation: app/messaging/rendering.py). The counter counts the longest text anyone
// in the audience would receive, opt-out line included, and what it costs.
const compose = document.getElementById("compose");
if (compose) {
  const texts = JSON.parse(document.getElementById("compose-texts").textContent);
  const toPersian = (value) => texts.digits
    ? String(value).replace(/\d/g, (d) => "۰۱۲۳۴۵۶۷۸۹"[d]) : String(value);
  const fill = (template, values) => template.replace(/%\((\w+)\)s/g, (_m, key) => values[key]);

  const body = compose.querySelector('textarea[name="body"]');
  // The audience: everyone, or the lists, tags and segments ticked, minus the lists and
  // segments left out.
  const audience = compose.querySelectorAll(
    'input[name="audience"], input[name="lists"], input[name="tags"], input[name="segments"], ' +
    'input[name="exclude_lists"], input[name="exclude_segments"]');
  const route = compose.querySelector('select[name="route"]');
  const counter = document.getElementById("counter");
  const problems = document.getElementById("placeholder-problems");
  const previewText = document.getElementById("preview-text");
  const previewContact = document.getElementById("preview-contact");
  const previewParts = document.getElementById("preview-parts");
  let offset = 0;
  let timer = null;
  let latest = 0; // only the answer to the newest request is shown

  // "1 part", "2 parts": texts.parts holds the form for one and the form for any other.
  const counted = (forms, num) => fill(forms[num === 1 ? 0 : 1], { num: toPersian(num) });
  const sizes = (characters, parts) => ({
    characters: counted(texts.characters, characters), parts: counted(texts.parts, parts),
  });

  const emptyValues = document.getElementById("empty-values");
  function showCount(longest) {
    if (emptyValues) {
      emptyValues.textContent = longest ? longest.empty : "";
      emptyValues.hidden = !emptyValues.textContent;
    }
    counter.dataset.characters = longest ? longest.characters : 0;
    counter.dataset.parts = longest ? longest.parts : 0;
    counter.textContent = longest
      ? `${fill(texts.longest, sizes(longest.characters, longest.parts))} — ${
        longest.unicode ? texts.unicode : texts.gsm} — ${fill(texts.cost, { cost: longest.cost_shown })}`
      : "";
  }

  async function preview() {
    const ticket = ++latest;
    const form = new FormData();
    form.append("body", body.value);
    audience.forEach((box) => { if (box.checked) form.append(box.name, box.value); });
    form.append("route", route ? route.value : "");
    form.append("offset", offset);
    for (const name of ["coupon_prefix", "coupon_length", "send_date"]) {
      const input = compose.querySelector(`[name="${name}"]`);
      if (input) form.append(name, input.value);
    }
    // The day it is sent on names its occasion ({مناسبت}).
    const when = compose.querySelector('input[name="when"]:checked');
    if (when) form.append("when", when.value);
    const response = await fetch(compose.dataset.previewUrl, {
      method: "POST", body: form, headers: { "X-CSRFToken": csrfToken() },
    });
    if (!response.ok) return;
    const data = await response.json();
    if (ticket !== latest) return;
    problems.textContent = data.problems.join("\n");
    problems.hidden = serverSaid || data.problems.length === 0;
    showCount(data.longest);
    previewText.textContent = data.text;
    previewContact.textContent = data.contact
      ? fill(texts.for, { contact: data.contact, audience: toPersian(data.audience) })
      : texts.nobody;
    previewParts.textContent = data.characters && !data.problems.length
      ? fill(texts.counter, sizes(data.characters, data.parts)) : "";
  }

  // The coupon fields matter only to a text with the coupon placeholder.
  const couponSettings = document.getElementById("coupon-settings");
  function showCouponSettings() {
    if (couponSettings) couponSettings.hidden = !/\{\s*(کد تخفیف|coupon)\s*[|}]/.test(body.value);
  }

  function changed() {
    showCouponSettings();
    clearTimeout(timer);
    timer = setTimeout(preview, 250);
  }

  // After a refused submit the server's words on the text stand until the text changes;
  // the live check would say the same of its placeholders a second time, so it waits.
  let serverSaid = compose.querySelector("[data-server-error]") !== null;
  body.addEventListener("input", () => {
    compose.querySelectorAll("[data-server-error]").forEach((said) => said.remove());
    serverSaid = false;
  });
  body.addEventListener("input", changed);
  audience.forEach((box) => box.addEventListener("change", () => { offset = 0; changed(); }));
  compose.querySelectorAll("#coupon-settings input").forEach((input) => input.addEventListener("input", changed));
  if (route) route.addEventListener("change", changed);
  // The day it is sent on names its occasion: {مناسبت} may read differently.
  compose.querySelectorAll('input[name="when"], input[name="send_date"]').forEach(
    (input) => input.addEventListener("change", changed),
  );
  document.getElementById("preview-next").addEventListener("click", () => { offset += 1; preview(); });

  const schedule = document.getElementById("schedule");
  if (schedule) { // the campaign's "when" (an automation has its own timing)
    const syncSchedule = () => {
      schedule.hidden = !compose.querySelector('input[name="when"][value="later"]').checked;
    };
    compose.querySelectorAll('input[name="when"]').forEach((r) => r.addEventListener("change", syncSchedule));
    syncSchedule();
  }
  changed();
}

// The automation editor: each kind's own fields (data-kinds) show for that kind only.
// The server hides the others too, and without a script its "show" button asks it again.
const kindSelect = document.querySelector("select[data-kind-select]");
if (kindSelect) {
  const syncKind = () => {
    document.querySelectorAll("[data-kinds]").forEach((part) => {
      part.hidden = !part.dataset.kinds.split(" ").includes(kindSelect.value);
    });
  };
  document.querySelectorAll("[data-kind-refresh]").forEach((button) => { button.hidden = true; });
  kindSelect.addEventListener("change", syncKind);
  syncKind();
}

// Forms that ask before doing something that cannot be undone.
document.querySelectorAll("form[data-confirm]").forEach((form) => {
  form.addEventListener("submit", (event) => {
    if (!window.confirm(form.dataset.confirm)) event.preventDefault();
  });
});

// A button that asks first, where the rest of its form does not (delete beside save).
document.querySelectorAll("button[data-confirm]").forEach((button) => {
  button.addEventListener("click", (event) => {
    if (!window.confirm(button.dataset.confirm)) event.preventDefault();
  });
});

// Campaign page: progress refreshed from the server until the campaign is done.
const progress = document.getElementById("progress");
if (progress) {
  async function refresh() {
    let data;
    try {
      const response = await fetch(progress.dataset.url, { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(response.status);
      data = await response.json();
    } catch {
      setTimeout(refresh, 5000); // the server is restarting or the network dropped: ask again
      return;
    }
    // A new state (started, paused, finished) changes the buttons and times: reload.
    if (data.status !== progress.dataset.status) {
      window.location.reload();
      return;
    }
    progress.querySelector('[data-field="status_label"]').textContent = data.status_label;
    progress.querySelector('[data-field="handed_over_shown"]').textContent = data.handed_over_shown;
    progress.querySelector('[data-field="total_shown"]').textContent = data.total_shown;
    progress.querySelector('[data-field="paused_reason"]').textContent = data.paused_reason;
    progress.querySelector('[data-field="rate"]').textContent = data.rate_text;
    progress.querySelector('[data-field="eta"]').textContent = data.eta_text;
    progress.querySelector('[data-field="uncertain"]').textContent = data.uncertain_text;
    progress.querySelector('[data-field="window_text"]').textContent = data.window_text;
    progress.querySelector(".progressbar-fill").style.inlineSize = `${data.percent}%`;
    progress.querySelector('[role="progressbar"]').setAttribute("aria-valuenow", data.percent);
    const list = progress.querySelector('[data-field="counts"]');
    list.replaceChildren(...data.counts.map((item) => {
      const li = document.createElement("li");
      li.dataset.status = item.status;
      const strong = document.createElement("strong");
      strong.textContent = item.shown;
      li.append(`${item.label}: `, strong);
      return li;
    }));
    const settled = data.status === "done" &&
      !data.counts.some((item) => ["queued", "sending", "sent"].includes(item.status));
    if (!settled) setTimeout(refresh, 2000);
  }
  setTimeout(refresh, 1000);
}

// A page waiting for something made in the background (a large export) looks again.
document.querySelectorAll("[data-refresh]").forEach((element) => {
  setTimeout(() => window.location.reload(), Number(element.dataset.refresh) * 1000);
});

// Import mapping: the first row shown as column names while the box says so.
document.querySelectorAll("[data-header-toggle]").forEach((box) => {
  const table = document.getElementById("preview");
  box.addEventListener("change", () => table.classList.toggle("has-header", box.checked));
});

// Import progress: refreshed from the server until the import is over, then the result.
const importProgress = document.getElementById("import-progress");
if (importProgress && importProgress.dataset.finished !== "true") {
  const show = (name, value) => {
    importProgress.querySelectorAll(`[data-field="${name}"], [data-stat="${name}"]`)
      .forEach((element) => { element.textContent = value; });
  };
  async function pollImport() {
    let data = null;
    try {
      const response = await fetch(importProgress.dataset.url, { headers: { Accept: "application/json" } });
      if (response.ok) data = await response.json();
    } catch (error) {
      data = null; // the server is restarting: ask again in a moment
    }
    if (data) {
      if (data.finished) {
        window.location.reload();
        return;
      }
      show("status_label", data.status_label);
      for (const name of ["rows", "total_rows", "created", "updated", "duplicates", "invalid"]) {
        show(name, data.shown[name]);
      }
      const bar = importProgress.querySelector('[role="progressbar"]');
      bar.setAttribute("aria-valuenow", data.percent);
      bar.querySelector(".progressbar-fill").style.inlineSize = `${data.percent}%`;
    }
    setTimeout(pollImport, 1000);
  }
  setTimeout(pollImport, 500);
}

// Jalali date picker for text fields marked data-jalali-picker (the text of its button).
// Written here by hand: the panel serves no third-party script (no CDN, nothing pasted in),
// its CSP refuses inline styles, which the usual pickers set, and none is needed for the
// calendar itself — the browser's Intl knows the Persian one (formatToParts gives the
// Jalali year, month and day of any day), so this only lays out a month and moves a
// focus. The field stays a plain text input: without the script the owner types the date.
const PERSIAN_CALENDAR = "fa-IR-u-ca-persian-nu-latn";
const jalaliParts = new Intl.DateTimeFormat(PERSIAN_CALENDAR, {
  year: "numeric", month: "numeric", day: "numeric", timeZone: "UTC",
});
const DAY_MS = 86400000;

// The Jalali {year, month, day} of a UTC midnight.
function jalaliOf(moment) {
  const parts = {};
  jalaliParts.formatToParts(moment).forEach((part) => { parts[part.type] = Number(part.value); });
  return { year: parts.year, month: parts.month, day: parts.day };
}

// Months 1-6 have 31 days and 7-12 have 30 (Esfand 29 or 30).
const dayOfYear = (month, day) => (month <= 7 ? (month - 1) * 31 : 186 + (month - 7) * 30) + day;

// The UTC midnight of a Jalali day, found by walking from an estimate (no tables);
// null for a day the month does not have.
function gregorianOf(year, month, day) {
  let moment = new Date(Date.UTC(year + 621, 2, 21 + Math.round((month - 1) * 30.6) + day - 1));
  for (let step = 0; step < 6; step += 1) {
    const found = jalaliOf(moment);
    if (found.year === year && found.month === month && found.day === day) return moment;
    // A leap year's 366th day makes the estimate one off across New Year: step a day.
    const off = (year - found.year) * 365 + dayOfYear(month, day) - dayOfYear(found.month, found.day) ||
      (found.year > year ? -1 : 1);
    moment = new Date(moment.getTime() + off * DAY_MS);
  }
  return null;
}

document.querySelectorAll("input[data-jalali-picker]").forEach((input) => {
  const persian = document.documentElement.lang === "fa";
  const locale = persian ? "fa-IR-u-ca-persian" : "en-u-ca-persian";
  const monthTitle = new Intl.DateTimeFormat(locale, { year: "numeric", month: "long", timeZone: "UTC" });
  const weekday = new Intl.DateTimeFormat(locale, { weekday: "narrow", timeZone: "UTC" });
  const fullDay = new Intl.DateTimeFormat(locale, {
    weekday: "long", day: "numeric", month: "long", year: "numeric", timeZone: "UTC",
  });
  // «شنبه ۱۲ مرداد ۱۳۷۰», as it is said; Chromium's pattern puts the year first.
  const dayName = (moment) => {
    const parts = Object.fromEntries(fullDay.formatToParts(moment).map((part) => [part.type, part.value]));
    return `${parts.weekday} ${parts.day} ${parts.month} ${parts.year}`;
  };
  const thisYear = jalaliOf(new Date()).year;
  const shown = (value) => persian ? String(value).replace(/\d/g, (d) => "۰۱۲۳۴۵۶۷۸۹"[d]) : String(value);
  const pad = (value) => String(value).padStart(2, "0");

  const toggle = document.createElement("button");
  toggle.type = "button";
  toggle.className = "picker-toggle";
  toggle.textContent = input.dataset.jalaliPicker;
  toggle.setAttribute("aria-expanded", "false");
  const panel = document.createElement("div");
  panel.className = "picker";
  panel.setAttribute("role", "dialog");
  panel.hidden = true;
  input.after(toggle, panel);

  let first = null; // the UTC midnight of the shown month's first day
  let focused = null; // the UTC midnight of the day that has the keyboard focus

  function monthStart(moment) {
    return new Date(moment.getTime() - (jalaliOf(moment).day - 1) * DAY_MS);
  }

  function typedDay() {
    const digits = input.value.replace(/[۰-۹]/g, (d) => "۰۱۲۳۴۵۶۷۸۹".indexOf(d))
      .replace(/[٠-٩]/g, (d) => "٠١٢٣٤٥٦٧٨٩".indexOf(d));
    const match = digits.match(/^\s*(1[2-6]\d\d)\s*[/\-.]\s*(\d{1,2})\s*[/\-.]\s*(\d{1,2})\s*$/);
    return match ? gregorianOf(Number(match[1]), Number(match[2]), Number(match[3])) : null;
  }

  function render() {
    const heading = document.createElement("div");
    heading.className = "picker-head";
    const previous = document.createElement("button");
    previous.type = "button";
    previous.dataset.move = "-1";
    previous.textContent = persian ? "›" : "‹";
    previous.setAttribute("aria-label", input.dataset.previousMonth || "");
    const next = document.createElement("button");
    next.type = "button";
    next.dataset.move = "1";
    next.textContent = persian ? "‹" : "›";
    next.setAttribute("aria-label", input.dataset.nextMonth || "");
    const title = document.createElement("strong");
    // «مرداد ۱۳۷۰», as it is said; Chromium's fa pattern puts the year first.
    const parts = Object.fromEntries(monthTitle.formatToParts(first).map((part) => [part.type, part.value]));
    title.textContent = `${parts.month} ${parts.year}`;
    title.setAttribute("aria-live", "polite");
    // A year is one choice away: a birth date thirty years back is not 360 clicks.
    const year = document.createElement("select");
    year.dataset.year = "";
    year.setAttribute("aria-label", input.dataset.year || "");
    const shownYear = jalaliOf(first).year;
    for (let value = Math.min(1300, shownYear); value <= Math.max(thisYear + 10, shownYear); value += 1) {
      year.append(new Option(shown(value), String(value), false, value === shownYear));
    }
    heading.append(previous, title, year, next);

    const grid = document.createElement("table");
    grid.className = "picker-days";
    grid.setAttribute("role", "grid");
    const names = document.createElement("tr");
    // Iranian weeks start on Saturday: 3 January 2026 was one.
    for (let i = 0; i < 7; i += 1) {
      const th = document.createElement("th");
      th.textContent = weekday.format(new Date(Date.UTC(2026, 0, 3 + i)));
      names.append(th);
    }
    grid.append(names);
    const month = jalaliOf(first).month;
    let row = document.createElement("tr");
    for (let i = 0; i < (first.getUTCDay() + 1) % 7; i += 1) row.append(document.createElement("td"));
    const chosen = typedDay();
    for (let moment = first; jalaliOf(moment).month === month; moment = new Date(moment.getTime() + DAY_MS)) {
      if (row.children.length === 7) { grid.append(row); row = document.createElement("tr"); }
      const cell = document.createElement("td");
      const day = document.createElement("button");
      day.type = "button";
      day.dataset.day = String(moment.getTime());
      day.textContent = shown(jalaliOf(moment).day);
      day.setAttribute("aria-label", dayName(moment));
      day.tabIndex = moment.getTime() === focused.getTime() ? 0 : -1;
      if (chosen && moment.getTime() === chosen.getTime()) day.setAttribute("aria-pressed", "true");
      cell.append(day);
      row.append(cell);
    }
    grid.append(row);
    panel.replaceChildren(heading, grid);
  }

  function show(moment, focus) {
    focused = moment;
    first = monthStart(moment);
    render();
    if (focus) panel.querySelector(`[data-day="${moment.getTime()}"]`).focus();
  }

  function open() {
    const today = new Date();
    panel.hidden = false;
    toggle.setAttribute("aria-expanded", "true");
    show(typedDay() || new Date(Date.UTC(today.getFullYear(), today.getMonth(), today.getDate())), true);
  }

  function close() {
    panel.hidden = true;
    toggle.setAttribute("aria-expanded", "false");
    toggle.focus();
  }

  function choose(moment) {
    const parts = jalaliOf(moment);
    input.value = shown(`${parts.year}/${pad(parts.month)}/${pad(parts.day)}`);
    input.dispatchEvent(new Event("change", { bubbles: true }));
    close();
  }

  // Another month, keeping the focused day's place (the 31st becomes the month's last).
  function moveMonth(step, focus) {
    const day = jalaliOf(focused).day;
    const start = step > 0 ? new Date(first.getTime() + 32 * DAY_MS) : new Date(first.getTime() - DAY_MS);
    const target = monthStart(start);
    let moment = new Date(target.getTime() + (day - 1) * DAY_MS);
    while (jalaliOf(moment).month !== jalaliOf(target).month) moment = new Date(moment.getTime() - DAY_MS);
    show(moment, focus);
  }

  // The same day and month in another year (30 Esfand becomes 29 in a common year).
  function moveToYear(year, focus) {
    const { month, day } = jalaliOf(focused);
    let moment = null;
    for (let last = day; !moment; last -= 1) moment = gregorianOf(year, month, last);
    show(moment, focus);
  }

  toggle.addEventListener("click", () => (panel.hidden ? open() : close()));
  panel.addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (!button) return;
    if (button.dataset.move) moveMonth(Number(button.dataset.move), false);
    else if (button.dataset.day) choose(new Date(Number(button.dataset.day)));
  });
  panel.addEventListener("change", (event) => {
    if (event.target.dataset.year === undefined) return;
    moveToYear(Number(event.target.value), false);
    panel.querySelector("select[data-year]").focus();
  });
  panel.addEventListener("keydown", (event) => {
    const rtl = getComputedStyle(panel).direction === "rtl";
    const steps = { ArrowUp: -7, ArrowDown: 7, ArrowLeft: rtl ? 1 : -1, ArrowRight: rtl ? -1 : 1 };
    if (event.key === "Escape") {
      event.preventDefault();
      close();
    } else if ((event.key === "PageUp" || event.key === "PageDown") && event.shiftKey) {
      event.preventDefault();
      moveToYear(jalaliOf(focused).year + (event.key === "PageDown" ? 1 : -1), true);
    } else if (event.key === "PageUp" || event.key === "PageDown") {
      event.preventDefault();
      moveMonth(event.key === "PageDown" ? 1 : -1, true);
    } else if (steps[event.key] && event.target.dataset.day) {
      event.preventDefault();
      show(new Date(focused.getTime() + steps[event.key] * DAY_MS), true);
    }
  });
  document.addEventListener("click", (event) => {
    if (!panel.hidden && !event.composedPath().some((node) => node === panel || node === toggle)) {
      panel.hidden = true;
      toggle.setAttribute("aria-expanded", "false");
    }
  });
});
