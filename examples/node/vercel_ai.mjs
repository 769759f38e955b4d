#!/usr/bin/env node
// The Vercel AI SDK (`ai`), unchanged, streaming through its OpenAI or Anthropic provider
// and read as agent code reads it: `fullStream`, text deltas and a tool call's input
// deltas (the tool is declared, with no execute), an `error` or `abort` part a failure:
//   python -m emulator conform --dialect openai-chat \
//     --cmd 'node examples/node/vercel_ai.mjs openai {url} {prompt} {timeout}'
//   python -m emulator conform --dialect anthropic \
//     --cmd 'node examples/node/vercel_ai.mjs anthropic {url} {prompt} {timeout}'
import {jsonSchema, streamText, tool} from "ai";
import {createAnthropic} from "@ai-sdk/anthropic";
import {createOpenAI} from "@ai-sdk/openai";
import {run} from "./run.mjs";

globalThis.AI_SDK_LOG_WARNINGS = false;  // its warnings go to stdout, where the reply goes
const provider = process.argv.splice(2, 1)[0];

await run(async (url, prompt, timeout) => {
  const model = provider === "anthropic"
    ? createAnthropic({baseURL: `${url}/v1`, apiKey: "sk-ant-conformance"})("claude-3-5-haiku-latest")
    : createOpenAI({baseURL: `${url}/v1`, apiKey: "sk-conformance"}).chat("gpt-4o-mini");
  const result = streamText({
    model,
    prompt,
    maxRetries: 0,
    abortSignal: AbortSignal.timeout(timeout),  // it has a total timeout only
    tools: {get_weather: tool({inputSchema: jsonSchema({type: "object"})})},
    onError: () => {},  // the error part below is the failure (not a log line)
  });
  let text = "";
  const calls = new Map();  // each call's input by its id, in the order the calls start
  for await (const part of result.fullStream) {
    if (part.type === "text-delta") text += part.text;
    else if (part.type === "tool-input-start") calls.set(part.id, "");
    else if (part.type === "tool-input-delta") calls.set(part.id, (calls.get(part.id) ?? "") + part.delta);
    else if (part.type === "error") throw part.error;
    else if (part.type === "abort") throw new Error(`aborted: ${part.reason ?? "timeout"}`);
  }
  return text + [...calls.values()].join("");
});
