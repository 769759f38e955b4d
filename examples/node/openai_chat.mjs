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
  let text = "";
  for await (const chunk of stream) {  // as the package's README reads a stream
    const delta = chunk.choices[0]?.delta;
    text += delta?.content || "";
    for (const call of delta?.tool_calls ?? []) text += call.function?.arguments ?? "";
  }
  return text;
});
