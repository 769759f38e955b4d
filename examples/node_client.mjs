#!/usr/bin/env node
// A FakeGpt client in another language, to judge with the conformance kit:
//
//   python -m emulator conform --cmd 'node examples/node_client.mjs {url} {prompt} {timeout}'
//
// It logs in as the front end did, streams the reply, prints its text and
// exits 0; on any failure it prints why to stderr and exits 1. Node 18+
// (fetch and web streams built in), no packages. Deliberately small: it
// reads cumulative snapshots only (not the 2024 delta_encoding v1) and does
// not log in again after a 401, and the report card says so.
import {randomUUID} from "node:crypto";

const [base, prompt, idleArg = "60"] = process.argv.slice(2);
const idleMs = Number(idleArg) * 1000;

function fail(why) {
  process.stderr.write(why + "\n");
  process.exit(1);
}

async function checked(path, init = {}) {
  const r = await fetch(base + path, {redirect: "manual", ...init});
  if (r.status < 200 || r.status > 299) {
    const body = await r.text().catch(() => "");
    fail(`${path} answered HTTP ${r.status}: ${body.slice(0, 200)}`);
  }
  return r;
}

async function login() {
  const loads = await (await checked(`/api/loads?t=${Math.floor(Date.now() / 1000)}`)).json();
  const ids = (loads.loads || []).map(l => l.token_id).filter(t => typeof t === "string");
  if (!ids.length) fail("login: /api/loads listed no accounts");
  const form = new URLSearchParams({token_key: ids[0], session_password: "node-client"});
  const answer = await checked("/auth/login", {method: "POST", body: form});
  const cookie = (answer.headers.get("set-cookie") || "").split(";")[0];
  const session = await (await checked("/api/auth/session", {headers: {cookie}})).json();
  if (!session.accessToken) fail("login: /api/auth/session gave no accessToken (not logged in)");
  return session.accessToken;
}

async function converse(token) {
  const abort = new AbortController();
  let timer = setTimeout(() => abort.abort(), idleMs);
  const r = await checked("/api/conversation", {
    method: "POST",
    signal: abort.signal,
    headers: {"Content-Type": "application/json", "Accept": "text/event-stream",
              "X-Authorization": `Bearer ${token}`},
    body: JSON.stringify({
      action: "next", parent_message_id: randomUUID(), model: "text-davinci-002-render-sha",
      messages: [{id: randomUUID(), author: {role: "user"},
                  content: {content_type: "text", parts: [prompt]}, metadata: {}}],
    }),
  });
  let text = "", done = false, finished = false, buffer = "", data = [];
  const decoder = new TextDecoder();
  const reader = r.body.getReader();
  const dispatch = () => {
    if (!data.length) return;
    const payload = data.join("\n");
    data = [];
    if (payload === "[DONE]") { done = true; return; }
    let event;
    try { event = JSON.parse(payload); } catch { return; }  // a malformed line: skipped
    if (event.error) fail(`the upstream reported an error in the stream: ${event.error}`);
    const m = event.message;
    if (!m || m.author?.role !== "assistant" || (m.metadata?.message_type ?? "next") !== "next") return;
    const part = m.content?.parts?.[0];
    if (typeof part !== "string") return;
    if (!part.startsWith(text) && !(text.startsWith(part) && m.status !== "finished_successfully")) {
      fail("a snapshot rewrote text already received");
    }
    if (part.length >= text.length) text = part;
    if (m.status === "finished_successfully") finished = true;
  };
  try {
    for (;;) {
      const {value, done: end} = await reader.read();
      if (end) break;
      clearTimeout(timer);
      timer = setTimeout(() => abort.abort(), idleMs);
      buffer += decoder.decode(value, {stream: true});
      const lines = buffer.split(/\r\n|\r|\n/);
      buffer = lines.pop();
      for (const line of lines) {
        if (line === "") dispatch();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        if (done) break;  // [DONE]: nothing after it counts
      }
      if (done) break;
    }
  } catch (e) {
    fail(abort.signal.aborted ? `no data within the idle timeout of ${idleArg} s` :
         `the stream broke: ${e.message} (incomplete)`);
  } finally {
    clearTimeout(timer);
  }
  if (!done && !finished) fail(`the stream ended before the reply was complete (incomplete)`);
  if (!text) fail("no valid response: the reply was empty");
  return text;
}

try {
  const text = await converse(await login());
  // Exit once the pipe has taken it all: exiting at once would cut a long reply.
  process.stdout.write(text, () => process.exit(0));
} catch (e) {
  fail(`${e.name}: ${e.message}`);
}
