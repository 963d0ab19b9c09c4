// routesh ui: sortable tables and the routing playground. No inline script (the CSP forbids it); every value
// from the server is shown with textContent, never parsed as HTML.
"use strict";

const token = new URLSearchParams(location.search).get("token") || "";

function cellValue(td) {
  const marked = td.querySelector("[data-sort]");
  if (marked) return parseFloat(marked.dataset.sort);
  const text = td.textContent.trim();
  const n = parseFloat(text.replace(/[$,%]/g, ""));
  return text === "—" || text.startsWith("— ") ? -Infinity : (isNaN(n) ? text.toLowerCase() : n);
}

function makeSortable(table) {
  const heads = table.querySelectorAll("thead th");
  heads.forEach((th, col) => {
    th.tabIndex = 0;
    th.classList.add("sortable");
    const sort = () => {
      const dir = th.getAttribute("aria-sort") === "descending" ? 1 : -1;
      heads.forEach(h => h.removeAttribute("aria-sort"));
      th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
      const body = table.tBodies[0];
      const rows = Array.from(body.rows);
      rows.sort((a, b) => {
        const x = cellValue(a.cells[col]), y = cellValue(b.cells[col]);
        return (x < y ? -1 : x > y ? 1 : 0) * dir;
      });
      rows.forEach(r => body.appendChild(r));
    };
    th.addEventListener("click", sort);
    th.addEventListener("keydown", e => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sort(); } });
  });
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function usd(v) {
  return v === null || v === undefined ? "unknown" : "$" + Number(v).toFixed(6);
}

function showPlan(box, pre, answer) {
  box.replaceChildren();
  pre.textContent = JSON.stringify(answer, null, 2);
  if (answer.error) {
    box.appendChild(el("p", answer.error, "problem"));
    return;
  }
  const p = answer.plan;
  const head = el("p", null, "verdict " + (p.policy.allowed ? "allowed" : "refused"));
  head.appendChild(el("strong", p.route));
  head.appendChild(document.createTextNode(" → " + p.provider + "/" + p.model + " via " + p.via));
  box.appendChild(head);
  const dl = el("dl");
  const rule = p.rule ? "rule " + p.rule.index + " (line " + p.rule.line + "): " + p.rule.matched : "no rule: the default route";
  const rows = [
    ["Why", p.reason], ["Rule", rule], ["Profile", p.profile + " (" + p.profile_reason + ")"],
    ["Policy", p.policy.allowed ? "allowed" : "refused: " + p.policy.why],
    ["Fallbacks", p.fallbacks.length ? p.fallbacks.join(" → ") : "none"],
    ["Estimated input", p.estimated_input_tokens + " tokens, " + usd(p.estimated_cost_usd)],
    ["Key", p.key.needed ? (p.key.present ? "found (" + p.key.source + ")" : "missing" + (p.key.problem ? ": " + p.key.problem : "")) : "not needed"],
    ["Secrets", p.secrets || "none found"],
  ];
  if (p.budget) rows.push(["Budget", p.budget.status]);
  for (const s of p.fallbacks_skipped) rows.push(["Skipped", s.route + ": " + s.why]);
  for (const n of p.notes) rows.push(["Note", n]);
  for (const [k, v] of rows) { dl.appendChild(el("dt", k)); dl.appendChild(el("dd", v)); }
  box.appendChild(dl);
}

function playground() {
  const input = document.getElementById("prompt");
  if (!input) return;
  const route = document.getElementById("route");
  const box = document.getElementById("plan");
  const pre = document.getElementById("plan-json");
  let timer = null, seq = 0;
  const ask = async () => {
    const mine = ++seq;
    if (!input.value.trim()) {
      box.replaceChildren(el("p", "The plan appears here.", "muted"));
      pre.textContent = "";
      return;
    }
    try {
      const r = await fetch("/api/dry-run?token=" + encodeURIComponent(token), {
        method: "POST", headers: {"Content-Type": "application/json"}, credentials: "omit",
        body: JSON.stringify({prompt: input.value, route: route.value.trim() || null}),
      });
      const answer = r.ok ? await r.json() : {error: (await r.text()).trim()};
      if (mine === seq) { showPlan(box, pre, answer); box.dataset.seq = String(mine); }
    } catch (e) {
      if (mine === seq) box.replaceChildren(el("p", "routesh ui is not answering: " + e, "problem"));
    }
  };
  const later = () => { clearTimeout(timer); timer = setTimeout(ask, 150); };
  input.addEventListener("input", later);
  route.addEventListener("input", later);
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("table[data-sortable]").forEach(makeSortable);
  document.querySelectorAll("form.filters select").forEach(s => s.addEventListener("change", () => s.form.submit()));
  playground();
});
