// Vafa's own small script: no framework, no CDN. Each block wires one page.
"use strict";

const csrfToken = () => document.querySelector('meta[name="csrf-token"]').content;

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

// Compose: live part count (mirrors app/messaging/text.py) and a server-rendered preview.
const compose = document.getElementById("compose");
if (compose) {
  const texts = JSON.parse(document.getElementById("compose-texts").textContent);
  const toPersian = (value) => texts.digits
    ? String(value).replace(/\d/g, (d) => "۰۱۲۳۴۵۶۷۸۹"[d]) : String(value);
  const fill = (template, values) => template.replace(/%\((\w+)\)s/g, (_m, key) => values[key]);
  const GSM = new Set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà");
  const GSM_EXTENSION = new Set("^{}\\[~]|€\f");

  function countParts(text) {
    const chars = [...text];
    const gsm = chars.every((c) => GSM.has(c) || GSM_EXTENSION.has(c));
    const length = gsm ? chars.reduce((n, c) => n + (GSM_EXTENSION.has(c) ? 2 : 1), 0)
      : text.length; // JS strings are UTF-16: an emoji counts two, as for the operator
    const [single, multi] = gsm ? [160, 153] : [70, 67];
    const parts = length === 0 ? 0 : length <= single ? 1 : Math.ceil(length / multi);
    return { length, parts, gsm };
  }

  const body = compose.querySelector('textarea[name="body"]');
  const audience = compose.querySelector('select[name="list_id"]');
  const counter = document.getElementById("counter");
  const previewText = document.getElementById("preview-text");
  const previewContact = document.getElementById("preview-contact");
  const previewParts = document.getElementById("preview-parts");
  let offset = 0;
  let timer = null;
  let latest = 0; // only the answer to the newest request is shown

  // What is sent: marketing texts end with the opt-out line (as SendingPolicy.with_optout).
  function outgoing(text) {
    const line = texts.optout.trim();
    if (!line || !text.trim() || text.trimEnd().endsWith(line)) return text;
    return `${text.trimEnd()}\n${line}`;
  }

  function showCount() {
    const count = countParts(outgoing(body.value));
    counter.dataset.characters = count.length;
    counter.dataset.parts = count.parts;
    counter.textContent = fill(texts.template,
      { characters: toPersian(count.length), parts: toPersian(count.parts) }) +
      " — " + (count.gsm ? texts.gsm : texts.unicode);
  }

  async function preview() {
    const ticket = ++latest;
    const form = new FormData();
    form.append("body", body.value);
    form.append("list_id", audience.value);
    form.append("offset", offset);
    const response = await fetch(compose.dataset.previewUrl, {
      method: "POST", body: form, headers: { "X-CSRFToken": csrfToken() },
    });
    if (!response.ok) return;
    const data = await response.json();
    if (ticket !== latest) return;
    previewText.textContent = data.text;
    previewContact.textContent = data.contact
      ? fill(texts.for, { contact: data.contact, audience: toPersian(data.audience) })
      : texts.nobody;
    previewParts.textContent = data.unknown.length
      ? fill(texts.unknown, { names: data.unknown.map((n) => `{${n}}`).join("، ") })
      : fill(texts.counter, { characters: toPersian(data.characters), parts: toPersian(data.parts) });
  }

  function changed() {
    showCount();
    clearTimeout(timer);
    timer = setTimeout(preview, 250);
  }

  body.addEventListener("input", changed);
  audience.addEventListener("change", () => { offset = 0; changed(); });
  document.getElementById("preview-next").addEventListener("click", () => { offset += 1; preview(); });
  compose.querySelectorAll("[data-insert]").forEach((chip) => {
    chip.addEventListener("click", () => {
      const start = body.selectionStart ?? body.value.length;
      const end = body.selectionEnd ?? start;
      body.setRangeText(chip.dataset.insert, start, end, "end");
      body.focus();
      changed();
    });
  });

  const schedule = document.getElementById("schedule");
  const syncSchedule = () => {
    schedule.hidden = !compose.querySelector('input[name="when"][value="later"]').checked;
  };
  compose.querySelectorAll('input[name="when"]').forEach((r) => r.addEventListener("change", syncSchedule));
  syncSchedule();
  changed();
}

// Forms that ask before doing something that cannot be undone.
document.querySelectorAll("form[data-confirm]").forEach((form) => {
  form.addEventListener("submit", (event) => {
    if (!window.confirm(form.dataset.confirm)) event.preventDefault();
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
