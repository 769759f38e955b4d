#!/usr/bin/env node
// The official `openai` package's Realtime client for Node (`OpenAIRealtimeWS`, on `ws`),
// unchanged: the session set to text, the prompt a user item, one response read to
// response.done, each event awaited at most the idle timeout:
//   python -m emulator conform --dialect openai-realtime \
//     --cmd 'node examples/node/openai_realtime.mjs {url} {prompt} {timeout}'
import OpenAI from "openai";
import {OpenAIRealtimeWS} from "openai/realtime/ws";
import {run} from "./run.mjs";

await run(async (url, prompt, timeout) => {
  const client = new OpenAI({baseURL: `${url}/v1`, apiKey: "sk-conformance", maxRetries: 0});
  const rt = await OpenAIRealtimeWS.create(client, {model: "gpt-realtime", options: {handshakeTimeout: timeout}});
  const items = new Map();  // output_index -> its pieces: the message's text, each call's arguments
  const add = (index, piece) => items.set(index, (items.get(index) ?? "") + piece);
  try {
    return await new Promise((resolve, reject) => {
      let timer;
      const idle = () => {
        clearTimeout(timer);
        timer = setTimeout(() => reject(new Error(`no event for ${timeout} ms`)), timeout);
      };
      idle();
      rt.on("error", (err) => reject(new Error(err?.error?.message ?? err?.message ?? String(err))));
      rt.socket.on("close", (code, reason) => reject(new Error(`the socket closed: ${code} ${reason}`)));
      rt.socket.on("open", () => {
        rt.send({type: "session.update", session: {type: "realtime", output_modalities: ["text"]}});
        rt.send({type: "conversation.item.create", item: {type: "message", role: "user",
          content: [{type: "input_text", text: prompt}]}});
        rt.send({type: "response.create"});
      });
      rt.on("event", (event) => {
        idle();
        if (event.type === "response.output_text.delta" || event.type === "response.function_call_arguments.delta") {
          add(event.output_index, event.delta);
        } else if (event.type === "response.done") {
          clearTimeout(timer);
          if (event.response.status !== "completed") reject(new Error(`the response ended ${event.response.status}`));
          resolve([...items.keys()].sort((a, b) => a - b).map((k) => items.get(k)).join(""));
        }
      });
    });
  } finally {
    rt.close();
  }
});
