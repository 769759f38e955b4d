#!/usr/bin/env node
// The official `openai` package, unchanged, streaming Chat Completions:
//   python -m emulator conform --dialect openai-chat \
//     --cmd 'node examples/node/openai_chat.mjs {url} {prompt} {timeout}'
import OpenAI from "openai";
import {run} from "./run.mjs";

await run(async (url, prompt, timeout) => {
  const client = new OpenAI({baseURL: `${url}/v1`, apiKey: "sk-conformance", maxRetries: 0, timeout});
  const stream = await client.chat.completions.create({
    model: "gpt-4o-mini",
    messages: [{role: "user", content: prompt}],
    stream: true,
  });
  let text = "", refusal = "";
  const calls = [];  // each call's arguments, by the index its pieces name (they may interleave)
  for await (const chunk of stream) {  // as the package's README reads a stream
    const delta = chunk.choices[0]?.delta;
    text += delta?.content || "";
    refusal += delta?.refusal || "";  // the model's refusal: its words, not its answer
    for (const call of delta?.tool_calls ?? []) {
      calls[call.index] = (calls[call.index] ?? "") + (call.function?.arguments ?? "");
    }
  }
  if (refusal) throw new Error(`the model refused: ${refusal}`);
  return text + calls.join("");
});
