// Vigil web UI: the little JavaScript it needs, no framework, no build. Every page works
// without it (forms post, links navigate); this adds keyboard shortcuts on the findings queue,
// bulk selection, live rule lint and test, confirmations and auto-submitting filters.
"use strict";
(function () {
  const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  // Forms that ask first.
  document.addEventListener("submit", (e) => {
    const f = e.target;
    const msg = f.getAttribute("data-confirm") || (e.submitter && e.submitter.getAttribute("data-confirm"));
    if (msg && !window.confirm(msg)) e.preventDefault();
  });

  // Filters submit when a chip or select changes.
  document.querySelectorAll("form[data-autosubmit]").forEach((f) => {
    f.addEventListener("change", (e) => {
      if (e.target.matches("input[type=checkbox], input[type=radio], select")) f.requestSubmit();
    });
  });

  // ---- findings queue -------------------------------------------------------------------
  const queue = document.querySelector(".queue");
  if (queue) {
    const rows = () => Array.from(queue.querySelectorAll("tr.row-finding"));
    const bulk = document.querySelector(".bulkbar");
    const selCount = bulk && bulk.querySelector(".sel");
    let cur = -1;
    const refresh = () => {
      const n = queue.querySelectorAll("input.pick:checked").length;
      if (selCount) selCount.textContent = n ? n + " selected" : "None selected";
      if (bulk) bulk.querySelectorAll("button[data-needs-selection]").forEach((b) => (b.disabled = n === 0));
    };
    const focusRow = (i) => {
      const rs = rows();
      if (!rs.length) return;
      cur = Math.max(0, Math.min(rs.length - 1, i));
      rs.forEach((r, j) => r.classList.toggle("current", j === cur));
      rs[cur].scrollIntoView({ block: "nearest" });
    };
    queue.addEventListener("change", (e) => {
      if (e.target.matches("input.pick-case")) {
        e.target.closest(".case").querySelectorAll("input.pick").forEach((c) => (c.checked = e.target.checked));
      }
      if (e.target.matches("input.pick-all")) {
        queue.querySelectorAll("input.pick, input.pick-case").forEach((c) => (c.checked = e.target.checked));
      }
      refresh();
    });
    queue.addEventListener("click", (e) => {
      const tr = e.target.closest("tr.row-finding");
      if (!tr || e.target.closest("a, input, button, label")) return;
      window.location = tr.dataset.href;
    });
    // Triage from the keyboard: applies to the selection, or to the current row when nothing
    // is selected, through the bulk form (so the server checks role and CSRF as for a click).
    const triage = (status) => {
      const form = document.getElementById("bulk-form");
      if (!form || !form.querySelector("button[value=" + status + "]")) return;
      if (!queue.querySelector("input.pick:checked")) {
        const r = rows()[cur];
        if (!r) return;
        r.querySelector("input.pick").checked = true;
      }
      form.querySelector("button[value=" + status + "]").click();
    };
    document.addEventListener("keydown", (e) => {
      if (e.target.closest("input, textarea, select") || e.metaKey || e.ctrlKey || e.altKey) return;
      const rs = rows();
      switch (e.key) {
        case "j": focusRow(cur + 1); break;
        case "k": focusRow(cur - 1); break;
        case "x": if (rs[cur]) { const c = rs[cur].querySelector("input.pick"); c.checked = !c.checked; refresh(); } break;
        case "o": case "Enter": if (rs[cur]) window.location = rs[cur].dataset.href; break;
        case "i": triage("investigating"); break;
        case "r": triage("resolved"); break;
        case "f": triage("false_positive"); break;
        case "a": { const b = document.querySelector("#bulk-form button[name=assign_me]"); if (b) { if (!queue.querySelector("input.pick:checked") && rs[cur]) rs[cur].querySelector("input.pick").checked = true; b.click(); } } break;
        case "/": { const q = document.querySelector(".filters input[type=search]"); if (q) { e.preventDefault(); q.focus(); } } break;
        case "?": { const d = document.getElementById("kbd-dialog"); if (d) d.showModal(); } break;
        default: return;
      }
    });
    refresh();
  }

  // ---- rule editor: live lint and test ---------------------------------------------------
  const editor = document.querySelector("textarea[data-lint]");
  if (editor) {
    const out = document.getElementById("lint-result");
    let timer = null, seq = 0;
    const post = (url, body) => fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
      body: JSON.stringify(body),
    }).then((r) => r.json());
    const lint = () => {
      const my = ++seq;
      post(editor.dataset.lint, { name: (document.querySelector("input[name=name]") || {}).value || "", content: editor.value })
        .then((res) => {
          if (my !== seq) return;
          out.className = "lint " + (res.ok ? "ok" : "err");
          out.textContent = res.ok ? "✓ " + res.summary : res.problems.join("\n");
        })
        .catch(() => { out.className = "lint idle"; out.textContent = "Lint unavailable."; });
    };
    editor.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(lint, 350); });
    editor.addEventListener("keydown", (e) => {
      if (e.key === "Tab") { e.preventDefault(); editor.setRangeText("  ", editor.selectionStart, editor.selectionEnd, "end"); }
    });
    lint();
    const testBtn = document.getElementById("rule-test");
    if (testBtn) testBtn.addEventListener("click", (e) => {
      e.preventDefault();
      const res = document.getElementById("test-result");
      res.className = "lint idle"; res.textContent = "Testing…";
      post(testBtn.dataset.url, { content: editor.value, events: document.getElementById("sample-events").value })
        .then((r) => { res.className = "lint " + (r.ok ? "ok" : "err"); res.textContent = r.output; })
        .catch(() => { res.className = "lint err"; res.textContent = "Test failed to run."; });
    });
  }

  // Keyboard help anywhere: "?" opens it on pages that have one; Escape closes dialogs natively.
  document.querySelectorAll("[data-open-dialog]").forEach((b) =>
    b.addEventListener("click", () => document.getElementById(b.dataset.openDialog).showModal()));
})();
