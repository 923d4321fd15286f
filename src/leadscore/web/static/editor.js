// The model editor: line numbers, validation as you type (errors at their line), tabs, and the
// lead pickers' suggestions. Loaded on the editor page only, after app.js (which calls it).
"use strict";

(function () {
  const DELAY = 350;

  function lineStart(text, line) {
    let pos = 0;
    for (let i = 1; i < line; i++) {
      const next = text.indexOf("\n", pos);
      if (next < 0) return text.length;
      pos = next + 1;
    }
    return pos;
  }

  function gotoLine(area, line) {
    const pos = lineStart(area.value, line);
    area.focus();
    area.setSelectionRange(pos, pos);
    const height = parseFloat(getComputedStyle(area).lineHeight) || 19.5;
    area.scrollTop = Math.max(0, (line - 3) * height);
  }

  function drawGutter(gutter, area, bad) {
    const lines = area.value.split("\n").length;
    const frag = document.createDocumentFragment();
    for (let n = 1; n <= lines; n++) {
      const span = document.createElement("span");
      span.textContent = n + "\n";
      if (bad.has(n)) span.className = "bad";
      frag.appendChild(span);
    }
    gutter.replaceChildren(frag);
    gutter.scrollTop = area.scrollTop;
  }

  function renderIssues(box, result, area) {
    box.replaceChildren();
    const errors = result.issues.filter((i) => i.severity === "error");
    const status = document.createElement("p");
    if (result.valid) {
      status.className = "ok";
      status.dataset.valid = "1";
      const warnings = result.issues.length;
      status.textContent = "✓ Valid" + (warnings ? ` (${warnings} warning${warnings === 1 ? "" : "s"})` : "");
    } else {
      status.className = "error";
      status.dataset.valid = "0";
      status.textContent = `${errors.length} error(s): the draft cannot be tried or published until they are fixed.`;
    }
    box.appendChild(status);
    const list = document.createElement("ul");
    list.className = "issues";
    for (const issue of result.issues) {
      const li = document.createElement("li");
      li.className = issue.severity;
      li.dataset.line = issue.line || "";
      if (issue.line) {
        const b = document.createElement("button");
        b.type = "button";
        b.className = "link";
        b.textContent = `line ${issue.line}`;
        b.addEventListener("click", () => gotoLine(area, issue.line));
        li.append(b, " · ");
      }
      const code = document.createElement("code");
      code.textContent = issue.path || "(top)";
      li.append(code, " " + issue.message);
      if (issue.hint) {
        const hint = document.createElement("span");
        hint.className = "muted";
        hint.textContent = " — " + issue.hint;
        li.append(hint);
      }
      list.appendChild(li);
    }
    box.appendChild(list);
  }

  function setupValidation(form) {
    const area = form.querySelector("textarea[name=text]");
    const gutter = document.getElementById("gutter");
    const box = document.getElementById("validation");
    let bad = new Set([...gutter.querySelectorAll(".bad")].map((s) => parseInt(s.textContent, 10)));
    let timer = null;
    let inflight = null;
    area.addEventListener("scroll", () => (gutter.scrollTop = area.scrollTop));
    box.querySelectorAll("button[data-goto]").forEach((b) =>
      b.addEventListener("click", () => gotoLine(area, parseInt(b.dataset.goto, 10))));
    area.addEventListener("input", () => {
      drawGutter(gutter, area, bad);
      clearTimeout(timer);
      timer = setTimeout(async () => {
        if (inflight) inflight.abort();
        inflight = new AbortController();
        try {
          const response = await post("/models/validate", { text: area.value, slot: form.dataset.slot },
                                      { signal: inflight.signal });
          const result = await response.json();
          bad = new Set(result.issues.filter((i) => i.severity === "error" && i.line).map((i) => i.line));
          drawGutter(gutter, area, bad);
          renderIssues(box, result, area);
        } catch (err) {
          if (err.name !== "AbortError") box.textContent = "Could not check the model: " + err;
        }
      }, DELAY);
    });
  }

  function setupTabs() {
    const tabs = [...document.querySelectorAll("#tabs [role=tab]")];
    const select = (tab, focus) => {
      for (const t of tabs) {
        const on = t === tab;
        t.setAttribute("aria-selected", on ? "true" : "false");
        t.tabIndex = on ? 0 : -1;
        document.getElementById(t.getAttribute("aria-controls")).toggleAttribute("data-hidden", !on);
      }
      if (focus) tab.focus();
    };
    tabs.forEach((tab, i) => {
      tab.tabIndex = tab.getAttribute("aria-selected") === "true" ? 0 : -1;
      tab.addEventListener("click", () => select(tab, false));
      tab.addEventListener("keydown", (ev) => {
        const step = { ArrowRight: 1, ArrowLeft: -1 }[ev.key];
        if (step) { ev.preventDefault(); select(tabs[(i + step + tabs.length) % tabs.length], true); }
        if (ev.key === "Home") { ev.preventDefault(); select(tabs[0], true); }
        if (ev.key === "End") { ev.preventDefault(); select(tabs[tabs.length - 1], true); }
      });
    });
  }

  function setupPickers(root) {
    root.addEventListener("submit", () => root.querySelectorAll(".suggest").forEach((l) => (l.hidden = true)));
    root.querySelectorAll("input[data-suggest]").forEach((input) => {
      const list = document.getElementById(input.dataset.suggest);
      const picker = input.closest(".picker");
      let timer = null;
      // leaving the field and its suggestions closes them
      picker.addEventListener("focusout", (ev) => {
        if (!picker.contains(ev.relatedTarget)) setTimeout(() => (list.hidden = true), 150);
      });
      input.addEventListener("input", () => {
        clearTimeout(timer);
        const q = input.value.trim();
        if (q.length < 2) { list.hidden = true; return; }
        timer = setTimeout(async () => {
          const response = await fetch("/contacts/search?q=" + encodeURIComponent(q), { credentials: "same-origin" });
          const found = response.ok ? await response.json() : [];
          list.replaceChildren();
          for (const item of found) {
            const li = document.createElement("li");
            const b = document.createElement("button");
            b.type = "button";
            b.setAttribute("role", "option");
            b.textContent = item.label;
            b.addEventListener("click", () => { input.value = item.contact_id; list.hidden = true; input.focus(); });
            li.appendChild(b);
            list.appendChild(li);
          }
          list.hidden = found.length === 0;
        }, 200);
      });
      input.addEventListener("keydown", (ev) => {
        if (ev.key === "ArrowDown" && !list.hidden) { ev.preventDefault(); list.querySelector("button")?.focus(); }
        if (ev.key === "Escape") list.hidden = true;
        if (ev.key === "Enter") {  // Enter in a lead field tries the draft (not the form's first button)
          ev.preventDefault();
          list.hidden = true;
          root.querySelector('button[formaction$="/try"]')?.click();
        }
      });
      list.addEventListener("keydown", (ev) => {
        const items = [...list.querySelectorAll("button")];
        const i = items.indexOf(document.activeElement);
        if (ev.key === "ArrowDown" && i < items.length - 1) { ev.preventDefault(); items[i + 1].focus(); }
        if (ev.key === "ArrowUp") { ev.preventDefault(); (i > 0 ? items[i - 1] : input).focus(); }
        if (ev.key === "Escape") { list.hidden = true; input.focus(); }
      });
    });
  }

  let done = false;
  window.leadscoreEditor = function () {
    const form = document.getElementById("editor-form");
    if (!form || done) return;
    done = true;
    setupValidation(form);
    setupTabs();
    setupPickers(form);
  };
})();
