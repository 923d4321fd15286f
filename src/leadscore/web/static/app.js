// leadscore dashboard: the page's own script, no framework and no build step.
// Every form works without it (a normal POST and a redirect); this only makes some of them update
// part of the page in place, draws the charts with the plotly.js served by this server, and runs
// the model editor's live validation. Every POST it sends carries the session's CSRF token.
"use strict";

const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

async function post(url, data, { signal } = {}) {
  const body = data instanceof FormData ? new URLSearchParams(data) : new URLSearchParams(data || {});
  return fetch(url, {
    method: "POST", body, signal, credentials: "same-origin",
    headers: { "X-Requested-With": "fetch", "X-CSRF-Token": csrf(),
               "Content-Type": "application/x-www-form-urlencoded" },
  });
}

// ---------------------------------------------------------------- charts (plotly.js, loaded once)
let plotly = null;
function loadPlotly() {
  if (!plotly) {
    plotly = new Promise((resolve, reject) => {
      const s = document.createElement("script");
      s.src = "/static/vendor/plotly.min.js";
      s.onload = () => resolve(window.Plotly);
      s.onerror = reject;
      document.head.appendChild(s);
    });
  }
  return plotly;
}

function drawCharts(root) {
  const boxes = root.querySelectorAll("[data-chart]");
  if (!boxes.length) return;
  loadPlotly().then((Plotly) => {
    boxes.forEach((box) => {
      const source = document.getElementById(box.dataset.chart);
      if (!source) return;
      const fig = JSON.parse(source.textContent);
      Plotly.newPlot(box, fig.data, fig.layout, { displaylogo: false, displayModeBar: false, responsive: true });
      box.dataset.drawn = "1";
    });
  });
}

// ---------------------------------------------------------------- forms that update part of a page
function busy(el, text) {
  el.innerHTML = "";
  const p = document.createElement("p");
  p.className = "busy";
  p.setAttribute("role", "status");
  p.textContent = text || "Working…";
  el.appendChild(p);
}

function showError(target, text) {
  target.innerHTML = "";
  const p = document.createElement("p");
  p.className = "error";
  p.setAttribute("role", "alert");
  p.textContent = text;
  target.appendChild(p);
}

// A form (or one of its buttons) with data-swap="#target" is sent in the background and the
// answer (a part of a page) replaces the target's content; other buttons submit normally.
function enhanceSwaps(root) {
  root.querySelectorAll("form[data-swap], form[data-enhance]").forEach((form) => {
    if (form.dataset.enhanced) return;
    form.dataset.enhanced = "1";
    form.addEventListener("submit", async (ev) => {
      const submitter = ev.submitter;
      const selector = (submitter && submitter.dataset.swap) || form.dataset.swap;
      if (!selector) return;
      ev.preventDefault();
      const target = document.querySelector(selector);
      const data = new FormData(form);
      const action = (submitter && submitter.hasAttribute("formaction")) ? submitter.formAction : form.action;
      const buttons = form.querySelectorAll("button[type=submit]");
      buttons.forEach((b) => (b.disabled = true));
      const busyText = (submitter && submitter.dataset.busy) || form.dataset.busy;
      if (busyText) busy(target, busyText);
      try {
        const response = await post(action, data);
        target.innerHTML = await response.text();
        enhance(target);
        const focus = target.querySelector("[role=alert], h2, h3");
        if (focus) { focus.tabIndex = -1; focus.focus({ preventScroll: false }); }
      } catch (err) {
        showError(target, "The server did not answer: " + err);
      } finally {
        buttons.forEach((b) => (b.disabled = false));
      }
    });
  });
}

// A slow page (a report) says what it is doing while the browser waits for it.
function enhanceBusyNotes(root) {
  root.querySelectorAll("form[data-busy-note]").forEach((form) => {
    if (form.dataset.noted) return;
    form.dataset.noted = "1";
    form.addEventListener("submit", () => {
      let note = form.querySelector(".busy");
      if (!note) {
        note = document.createElement("p");
        note.className = "busy";
        note.setAttribute("role", "status");
        form.appendChild(note);
      }
      note.textContent = form.dataset.busyNote;
    });
  });
}

// A link with data-swap="#target" loads a part of a page into the target in the background.
function enhanceLinks(root) {
  root.querySelectorAll("a[data-swap]").forEach((link) => {
    if (link.dataset.enhanced) return;
    link.dataset.enhanced = "1";
    link.addEventListener("click", async (ev) => {
      ev.preventDefault();
      const target = document.querySelector(link.dataset.swap);
      busy(target, link.dataset.busy || "Working…");
      try {
        const response = await fetch(link.dataset.fragment || link.href, {
          credentials: "same-origin", headers: { "X-Requested-With": "fetch" } });
        target.innerHTML = await response.text();
        enhance(target);
      } catch (err) {
        showError(target, "The server did not answer: " + err);
      }
    });
  });
}

function enhance(root) {
  drawCharts(root);
  enhanceLinks(root);
  enhanceSwaps(root);
  enhanceBusyNotes(root);
  if (window.leadscoreEditor) window.leadscoreEditor(root);
}

document.documentElement.classList.add("js");
document.addEventListener("DOMContentLoaded", () => enhance(document));
