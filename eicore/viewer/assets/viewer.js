"use strict";
// The eicore viewer: renders the data embedded in this page (gzip + base64 JSON) with no
// network access. Two modes: "report" (summary, plots, sample browser) and "review"
// (annotation review: edit triggers, rate quality 0-5, save to the local `eicore view` server).

const PAGE_SIZE = 100;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) {
      node.append(child instanceof Node ? child : String(child));
    }
  }
  return node;
}

async function loadData() {
  const text = document.getElementById("eicore-data").textContent.trim();
  const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return JSON.parse(await new Response(stream).text());
}

const pct = (x) => (x === null || x === undefined ? "—" : (100 * x).toFixed(1) + "%");

function imageUrl(data, path) {
  return data.imageBase + path.split("/").map(encodeURIComponent).join("/");
}

function imageFigure(data, item) {
  if (data.imageBase) {
    const url = imageUrl(data, item.image);
    return el("a", { href: url, target: "_blank", title: "full size" },
      el("img", { class: "sample-image", src: url, alt: item.image, loading: "lazy" }));
  }
  if (item.thumb) return el("img", { class: "thumb", src: item.thumb, alt: item.image });
  return el("div", { class: "noimage" }, "no image", el("br"), "(data.image_root not set or not found)");
}

// --- trace -------------------------------------------------------------------------------

function traceView(trace) {
  if (!trace || !trace.length) return null;
  const calls = trace.map((call, i) =>
    el("details", { class: "call" },
      el("summary", {},
        `#${i + 1} · round ${call.round} · ${call.role}`,
        call.cached ? [" ", el("span", { class: "badge cached" }, "cached")] : null,
        call.tokens && call.tokens[0] !== null ? ` · ${call.tokens[0]} → ${call.tokens[1]} tokens` : null),
      call.prompt.map((m) => [el("div", { class: "msg-role" }, m.role), el("pre", { class: "prompt", text: m.text })]),
      el("div", { class: "msg-role" }, "completion"),
      el("pre", { class: "completion", text: call.completion })));
  const rounds = new Set(trace.map((c) => c.round)).size;
  return el("details", { class: "trace" },
    el("summary", {}, `trace: ${trace.length} call${trace.length === 1 ? "" : "s"}, ${rounds} round${rounds === 1 ? "" : "s"}`),
    calls);
}

// --- report mode --------------------------------------------------------------------------

function renderSummary(app, data) {
  app.append(el("h2", {}, "Summary"));
  if (!data.summary.length) return;
  const head = ["Run", "Judge", ...data.columns, "95% CI", "Precision", "F1", "scored", "failed"];
  const rows = data.summary.map((r) =>
    el("tr", {},
      el("td", { title: r.note || null }, r.note ? `${r.run} †` : r.run),
      el("td", {}, r.judge || "—"),
      (r.cells || data.columns.map(() => "—")).map((c) => el("td", { class: "num" }, c)),
      el("td", { class: "num" }, r.ci ? `${(100 * r.ci[0]).toFixed(2)}–${(100 * r.ci[1]).toFixed(2)}` : "—"),
      el("td", { class: "num precision" }, r.precision ?? "—"),
      el("td", { class: "num f1" }, r.f1 ?? "—"),
      el("td", { class: "num" }, r.n_scored === null || r.n_scored === undefined ? "—" : `${r.n_scored} of ${r.n_samples}`),
      el("td", { class: "num" }, r.n_failed ?? "—")));
  app.append(el("table", { class: "summary" },
    el("thead", {}, el("tr", {}, head.map((h, i) => el("th", { class: i > 1 ? "num" : null }, h)))),
    el("tbody", {}, rows)));
  app.append(el("p", { class: "note" }, "Recall ×100: per emotion, overall (sample-weighted) and macro. Precision (answer items a trigger supports) and F1: overall, for judges that flag answer items."));
  if (data.summary.some((r) => r.note)) app.append(el("p", { class: "note cfsa" }, data.cfsaFootnote));
}

function renderPlots(app, data) {
  if (!data.plots.length) return;
  app.append(el("h2", {}, "Plots"),
    el("div", { class: "plots" }, data.plots.map((p) =>
      el("figure", {}, el("img", { src: p.uri, alt: p.name }), el("figcaption", {}, p.name)))));
}

function outcome(result) {
  if (result.status === "failed") return "failed";
  if (result.judgments.some((j) => j.status !== "ok")) return "unparsed";
  return "scored";
}

function primaryScore(result) {
  const j = result.judgments[0];
  return j && j.status === "ok" ? j.score : null;
}

function triggerList(sample, result) {
  const by = sample.triggers.map(() => []);
  const countOnly = [];
  for (const j of result ? result.judgments : []) {
    if (j.status !== "ok") continue;
    j.matched.forEach((i) => { if (by[i]) by[i].push(j.judge); });
    if (j.recalled > 0 && !j.matched.length) countOnly.push(`${j.judge} counted ${j.recalled} of ${j.total} without saying which`);
  }
  return [
    el("ol", { class: "triggers" }, sample.triggers.map((t, i) =>
      el("li", { class: by[i].length ? "trigger recalled" : "trigger", dataset: { index: i } },
        el("span", { class: "text" }, t), by[i].length ? el("span", { class: "by" }, "✓ " + by[i].join(", ")) : null))),
    countOnly.length ? el("p", { class: "note" }, countOnly.join("; ")) : null,
  ];
}

function judgmentView(j) {
  const precision = j.precision === null || j.precision === undefined ? "" : `, precision ${pct(j.precision)}`;
  const score = j.status === "ok" ? `${j.recalled}/${j.total} (${pct(j.score)}${precision})` : `not scored of ${j.total}`;
  return el("div", { class: `judgment ${j.status}` },
    el("strong", {}, j.judge), ": ", score, " ",
    j.status !== "ok" ? el("span", { class: `badge ${j.status}` }, j.status) : null,
    j.raw ? el("pre", { class: "raw", text: j.raw }) : null);
}

function runColumn(data, sample, index) {
  const result = sample.results[index];
  const kind = outcome(result);
  return el("div", { class: "run-column", dataset: { run: index } },
    el("h3", {}, data.runs[index].label, " ", kind !== "scored" ? el("span", { class: `badge ${kind}` }, kind) : null),
    result.error ? el("p", { class: "error-text" }, result.error) : null,
    result.answer !== null ? [el("div", { class: "msg-role" }, "answer"), el("pre", { class: "answer", text: result.answer })] : null,
    el("div", { class: "msg-role" }, "ground-truth triggers"),
    triggerList(sample, result),
    result.judgments.length ? el("div", { class: "msg-role" }, "judgments") : null,
    result.judgments.map(judgmentView),
    traceView(result.trace));
}

function sampleDetail(data, sample, index, state) {
  const shown = [index];
  if (state.side) {
    sample.results.forEach((r, j) => { if (r && j !== index && runVisible(data.runs[j], state)) shown.push(j); });
  }
  return el("div", { class: "detail" },
    el("div", { class: "detail-head" },
      imageFigure(data, sample),
      el("div", {},
        el("div", { class: "question" }, sample.question),
        el("div", { class: "note" }, sample.id, sample.emotion ? ` · ${sample.emotion}` : ""),
        sample.flags.length ? el("div", {}, sample.flags.map((f) => el("span", { class: "badge unparsed" }, f))) : null)),
    el("div", { class: "columns" }, shown.map((j) => runColumn(data, sample, j))));
}

function runVisible(run, state) {
  return (!state.model || run.model === state.model) && (!state.strategy || run.strategy === state.strategy);
}

function options(values, allLabel) {
  return [el("option", { value: "" }, allLabel), ...values.map((v) => el("option", { value: v }, v))];
}

function renderBrowser(app, data) {
  const entries = [];
  data.samples.forEach((sample) => sample.results.forEach((result, index) => {
    if (result) entries.push({ sample, index, result, kind: outcome(result), score: primaryScore(result) });
  }));
  const distinct = (f) => [...new Set(f)].filter((v) => v !== null && v !== undefined).sort();
  const state = { emotion: "", model: "", strategy: "", status: "", min: null, max: null, text: "", order: "data", side: true, limit: PAGE_SIZE };
  const input = (attrs, key, parse) => el("input", { ...attrs, oninput: (e) => { state[key] = parse(e.target.value); state.limit = PAGE_SIZE; update(); } });
  const select = (id, key, values, label) => el("select", { id, onchange: (e) => { state[key] = e.target.value; state.limit = PAGE_SIZE; update(); } }, options(values, label));
  const number = (v) => (v === "" ? null : Number(v) / 100);
  const filters = el("div", { class: "filters" },
    select("f-emotion", "emotion", distinct(data.samples.map((s) => s.emotion)), "all emotions"),
    select("f-model", "model", distinct(data.runs.map((r) => r.model)), "all models"),
    select("f-strategy", "strategy", distinct(data.runs.map((r) => r.strategy)), "all strategies"),
    el("select", { id: "f-status", onchange: (e) => { state.status = e.target.value; state.limit = PAGE_SIZE; update(); } },
      el("option", { value: "" }, "any outcome"), el("option", { value: "scored" }, "scored"),
      el("option", { value: "failed" }, "failed"), el("option", { value: "unparsed" }, "unparsed / judge error")),
    el("label", {}, "score %", input({ id: "f-min", type: "number", min: 0, max: 100, placeholder: "min" }, "min", number),
      "–", input({ id: "f-max", type: "number", min: 0, max: 100, placeholder: "max" }, "max", number)),
    input({ id: "f-text", type: "search", placeholder: "search id, question, answer" }, "text", (v) => v.trim().toLowerCase()),
    el("select", { id: "f-order", onchange: (e) => { state.order = e.target.value; update(); } },
      el("option", { value: "data" }, "data order"), el("option", { value: "asc" }, "score ↑"), el("option", { value: "desc" }, "score ↓")),
    data.runs.length > 1 ? el("label", {}, el("input", { id: "f-side", type: "checkbox", checked: true, onchange: (e) => { state.side = e.target.checked; update(); } }), "side by side") : null,
    el("span", { id: "count" }));
  const body = el("tbody");
  const more = el("button", { class: "more", onclick: () => { state.limit += PAGE_SIZE; update(); } });
  app.append(el("h2", {}, "Samples"), filters,
    el("table", { class: "samples" },
      el("thead", {}, el("tr", {}, ["Sample", "Emotion", "Run", "Score", "Answer"].map((h) => el("th", {}, h)))), body),
    more);

  function keep(e) {
    const run = data.runs[e.index];
    if (state.emotion && e.sample.emotion !== state.emotion) return false;
    if (!runVisible(run, state)) return false;
    if (state.status && e.kind !== state.status) return false;
    if (state.min !== null && (e.score === null || e.score < state.min - 1e-9)) return false;
    if (state.max !== null && (e.score === null || e.score > state.max + 1e-9)) return false;
    if (state.text) {
      const hay = `${e.sample.id}\n${e.sample.question}\n${e.result.answer || ""}`.toLowerCase();
      if (!hay.includes(state.text)) return false;
    }
    return true;
  }

  function row(e) {
    const scoreCell = e.kind === "failed" ? el("span", { class: "badge failed" }, "failed")
      : e.kind === "unparsed" && e.score === null ? el("span", { class: "badge unparsed" }, "unparsed")
      : e.result.judgments.map((j) => (j.status === "ok" ? pct(j.score) : j.status)).join(" / ") || "—";
    const tr = el("tr", { class: "sample-row", dataset: { id: e.sample.id, run: e.index } },
      el("td", {}, e.sample.id), el("td", {}, e.sample.emotion || "—"), el("td", {}, data.runs[e.index].label),
      el("td", { class: "num score" }, scoreCell),
      el("td", { class: "answer" }, e.result.answer === null ? e.result.error || "" : e.result.answer.replace(/\s+/g, " ")));
    tr.addEventListener("click", () => {
      const next = tr.nextElementSibling;
      if (next && next.classList.contains("sample-detail")) { next.remove(); tr.classList.remove("open"); return; }
      tr.classList.add("open");
      tr.after(el("tr", { class: "sample-detail" }, el("td", { class: "detail-cell", colspan: 5 }, sampleDetail(data, e.sample, e.index, state))));
    });
    return tr;
  }

  function update() {
    let kept = entries.filter(keep);
    if (state.order !== "data") {
      const sign = state.order === "asc" ? 1 : -1;
      const key = (e) => (e.score === null ? Infinity : sign * e.score);
      kept = kept.slice().sort((a, b) => key(a) - key(b));
    }
    body.replaceChildren(...kept.slice(0, state.limit).map(row));
    document.getElementById("count").textContent = `${kept.length} of ${entries.length} answers`;
    const left = kept.length - state.limit;
    more.textContent = `show ${Math.min(left, PAGE_SIZE)} more (${left} left)`;
    more.hidden = left <= 0;
  }
  update();
}

// --- review mode --------------------------------------------------------------------------

function qaList(pairs) {
  return el("dl", { class: "qa" }, pairs.map(([q, a]) => [el("dt", {}, q), el("dd", {}, el("pre", { text: a }))]));
}

// Every write goes through here: the server refuses a write without its session's token.
function post(data, url, body) {
  return fetch(url, {
    method: "POST", headers: { "Content-Type": "application/json", "X-Eicore-Token": data.token },
    body: JSON.stringify(body),
  });
}

// Save a review item (either mode): post ``body``, keep what the server saved and say so in
// ``status`` (``describe`` words it), or say why it was not saved.
async function saveItem(data, item, box, status, body, describe, progress) {
  status.className = "save-status";
  status.textContent = "saving…";
  try {
    const response = await post(data, data.saveUrl, body);
    const text = await response.text();
    if (!response.ok) throw new Error(text);
    const saved = JSON.parse(text);
    item.saved = saved.saved;
    box.classList.add("reviewed");
    status.className = "save-status ok";
    status.textContent = `saved (${describe(saved.saved)})`;
    progress(saved.reviewed);
  } catch (err) {
    status.className = "save-status failed";
    status.textContent = "not saved: " + err.message;
  }
}

function reviewItem(data, item, n, progress) {
  const list = el("ol", { class: "edit-triggers" });
  const addTrigger = (text) => {
    const field = el("input", { class: "trigger-input", type: "text", value: text, "aria-label": "trigger" });
    const li = el("li", {}, field, " ", el("button", { class: "delete-trigger", type: "button", onclick: () => { li.remove(); } }, "delete"));
    list.append(li);
    return field;
  };
  const start = item.saved ? item.saved.triggers : item.triggers;
  start.forEach(addTrigger);
  const save = el("button", { class: "save primary", type: "button", disabled: true }, "save");
  const status = el("span", { class: "save-status" });
  const name = `rating-${n}`;
  const rating = el("fieldset", { class: "rating" }, el("legend", {}, "quality 0–5"),
    [0, 1, 2, 3, 4, 5].map((v) => el("label", {},
      el("input", { type: "radio", name, value: v, checked: item.saved && item.saved.rating === v,
        onchange: () => { save.disabled = false; } }), String(v))));
  save.disabled = !item.saved;
  const box = el("div", { class: item.saved ? "review-item reviewed" : "review-item", dataset: { image: item.image } });
  save.addEventListener("click", () => {
    const chosen = rating.querySelector("input:checked");
    const triggers = [...list.querySelectorAll("input.trigger-input")].map((f) => f.value.trim()).filter((t) => t);
    saveItem(data, item, box, status, { image: item.image, triggers, rating: Number(chosen.value) },
      (saved) => `${saved.triggers.length} triggers, rating ${saved.rating}`, progress);
  });
  const p = item.phases || {};
  box.append(
    el("div", {}, imageFigure(data, item)),
    el("div", {},
      el("div", { class: "question" }, item.question),
      el("div", { class: "note" }, item.image, item.emotion ? ` · ${item.emotion}` : "",
        item.original_question ? ` · asked: “${item.original_question}”` : ""),
      el("h3", {}, "Triggers"),
      list,
      el("button", { class: "add-trigger", type: "button", onclick: () => addTrigger("").focus() }, "add trigger"),
      el("div", {}, rating),
      el("div", {}, save, status),
      el("details", { class: "phases" }, el("summary", {}, "strategy steps"),
        Object.entries(p).map(([name, value]) => [
          el("div", { class: "msg-role" }, name),
          Array.isArray(value) ? qaList(value) : el("pre", { text: value })])),
      traceView(item.trace)));
  return box;
}

function renderReview(app, data) {
  const counter = el("span", { id: "reviewed-count" });
  const progress = (n) => { counter.textContent = `${n} of ${data.items.length} reviewed`; };
  progress(data.items.filter((i) => i.saved).length);
  const onlyOpen = el("input", { type: "checkbox", id: "f-unreviewed", onchange: () => {
    for (const box of app.querySelectorAll(".review-item")) box.hidden = onlyOpen.checked && box.classList.contains("reviewed");
  } });
  app.append(
    el("h2", {}, `Annotation review — reviewer ${data.reviewer}`),
    el("p", { class: "note" },
      "Delete hallucinated or irrelevant triggers, edit them, add missed ones, then rate the machine annotation's quality from 0 (unusable) to 5 (perfect) and save. ",
      "Saving writes reviews/", data.reviewer, "/basic_ground_truth.json, user.jsonl and ratings.jsonl."),
    el("div", { class: "filters" }, counter, el("label", {}, onlyOpen, "unreviewed only")),
    ...data.items.map((item, n) => reviewItem(data, item, n, progress)));
}

// --- judge-review mode --------------------------------------------------------------------

function judgeReviewItem(data, item, n, progress) {
  const save = el("button", { class: "save primary", type: "button", disabled: true }, "save");
  const status = el("span", { class: "save-status" });
  const rows = item.triggers.map((t, i) => {
    const name = `label-${n}-${i}`;
    const choice = (value) => el("label", {},
      el("input", { type: "radio", name, value, class: `label-${value}`,
        checked: item.saved ? item.saved[i] === value : false,
        onchange: () => { save.disabled = !rows.every((r) => r.querySelector("input:checked")); } }),
      value);
    return el("li", { class: "label-trigger", dataset: { index: i } },
      el("span", { class: "text" }, t), " ", choice("matched"), choice("missed"));
  });
  const box = el("div", { class: item.saved ? "review-item judge-item reviewed" : "review-item judge-item", dataset: { sample: item.sample } });
  save.addEventListener("click", () => {
    const labels = rows.map((r) => r.querySelector("input:checked").value);
    saveItem(data, item, box, status, { sample: item.sample, labels },
      (saved) => `${saved.filter((v) => v === "matched").length} of ${saved.length} matched`, progress);
  });
  box.append(
    el("div", {}, imageFigure(data, item)),
    el("div", {},
      el("div", { class: "question" }, item.question),
      el("div", { class: "note" }, item.sample, item.emotion ? ` · ${item.emotion}` : ""),
      el("div", { class: "msg-role" }, "answer"),
      el("pre", { class: "answer", text: item.answer }),
      el("h3", {}, "Ground-truth triggers: does the answer identify each?"),
      el("ol", { class: "label-triggers" }, rows),
      el("div", {}, save, status)));
  return box;
}

function renderJudgeReview(app, data) {
  const counter = el("span", { id: "reviewed-count" });
  const progress = (n) => { counter.textContent = `${n} of ${data.items.length} labelled`; };
  progress(data.items.filter((i) => i.saved).length);
  app.append(
    el("h2", {}, `Judge review — reviewer ${data.reviewer}`),
    el("p", { class: "note" },
      "For each answer, mark every ground-truth trigger matched (the answer identifies it, in any words) or missed, then save. ",
      "Saving writes reviews/", data.reviewer, "/judge_labels.jsonl."),
    el("div", { class: "filters" }, counter),
    ...data.items.map((item, n) => judgeReviewItem(data, item, n, progress)));
}

// --- start --------------------------------------------------------------------------------

(async () => {
  const status = document.getElementById("status");
  try {
    const data = await loadData();
    const app = document.getElementById("app");
    if (data.mode === "review") renderReview(app, data);
    else if (data.mode === "judge-review") renderJudgeReview(app, data);
    else { renderSummary(app, data); renderPlots(app, data); renderBrowser(app, data); }
    status.textContent = data.mode === "review" ? `${data.items.length} images` : data.mode === "judge-review" ? `${data.items.length} answers` : `${data.runs.length} run${data.runs.length === 1 ? "" : "s"}, ${data.samples.length} samples`;
    document.body.dataset.ready = "true";
  } catch (err) {
    status.textContent = "could not show this report: " + err;
    document.body.dataset.ready = "error";
  }
})();
