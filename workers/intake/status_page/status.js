// The status page's only script: the Replay buttons and a live refresh. No build step, no
// libraries. Values from the server reach the DOM through textContent, or as HTML the server
// rendered and escaped (the refreshed figures).
"use strict";

(function () {
  const REFRESH_MS = 3000;

  // The operator API takes the session cookie only with this header (a cross-origin page
  // cannot send it without a preflight the intake never grants): see workers/intake/http.py.
  function headers() {
    return { "X-Orderbridge-Operator": "1", "Accept": "application/json" };
  }

  function call(method, path) {
    return fetch(path, { method: method, headers: headers(), credentials: "same-origin" });
  }

  function notice(text, kind) {
    const box = document.getElementById("notices");
    const p = document.createElement("p");
    p.className = "notice " + (kind || "");
    p.textContent = text;
    box.prepend(p);
    return p;
  }

  async function errorText(response) {
    try {
      const body = await response.json();
      return body.error ? body.error.message : response.statusText;
    } catch (e) {
      return response.status + " " + response.statusText;
    }
  }

  // After a replay, follow the job until it finishes and say how it ended.
  async function follow(jobId, reference, line) {
    const deadline = Date.now() + 120000;
    while (Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const response = await call("GET", "/v1/jobs/" + encodeURIComponent(jobId));
      if (!response.ok) continue;
      const job = await response.json();
      line.dataset.state = job.state;
      const step = job.current_step ? " (" + job.current_step + ")" : "";
      // What the ERP did not get of the order (the job's warnings) is said, never hidden.
      const dropped = (job.warnings || []).map((w) => w.field);
      const warned = dropped.length ? "; not sent to the ERP: " + dropped.join(", ") : "";
      line.textContent = "Order " + reference + ": " + job.state + step + warned;
      line.title = (job.warnings || []).map((w) => w.field + ": " + w.reason).join("\n");
      if (["done", "duplicate", "dead", "cancelled", "previewed"].includes(job.state)) return;
    }
  }

  async function replay(button) {
    const row = button.closest("tr");
    const id = button.dataset.id, jobId = button.dataset.job, reference = button.dataset.reference;
    button.disabled = true;
    const response = await call("POST", "/v1/dead-letters/" + encodeURIComponent(id) + "/replay");
    if (!response.ok) {
      button.disabled = false;
      notice("Replay of order " + reference + " failed: " + (await errorText(response)), "problem");
      return;
    }
    row.remove();
    const line = notice("Order " + reference + ": replayed, queued", "replayed");
    line.dataset.job = jobId;
    follow(jobId, reference, line);
  }

  async function refresh() {
    if (document.hidden) return;
    const response = await fetch("/status", { headers: headers(), credentials: "same-origin" });
    if (response.status === 401) {
      window.location.reload();  // the session ended: show the login form
      return;
    }
    if (!response.ok) return;
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    const live = fresh.getElementById("live");
    const current = document.getElementById("live");
    if (live && current) current.replaceWith(document.adoptNode(live));
  }

  document.addEventListener("DOMContentLoaded", function () {
    const login = document.getElementById("login");
    if (login) return;
    document.addEventListener("click", function (event) {
      const button = event.target.closest("button.replay");
      if (button) replay(button);
    });
    setInterval(function () { refresh().catch(function () {}); }, REFRESH_MS);
  });
})();
