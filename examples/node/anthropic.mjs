#!/usr/bin/env node
// The official `@anthropic-ai/sdk` package, unchanged, streaming Messages:
//   python -m emulator conform --dialect anthropic \
//     --cmd 'node examples/node/anthropic.mjs {url} {prompt} {timeout}'
import Anthropic from "@anthropic-ai/sdk";
import {run} from "./run.mjs";

await run(async (url, prompt, timeout) => {
  const client = new Anthropic({baseURL: url, apiKey: "sk-ant-conformance", maxRetries: 0, timeout});
  const stream = await client.messages.create({
    model: "claude-3-5-haiku-latest",
    max_tokens: 1024,
    messages: [{role: "user", content: prompt}],
    stream: true,
  });
  let text = "";
  for await (const event of stream) {
    if (event.type !== "content_block_delta") continue;
    if (event.delta.type === "text_delta") text += event.delta.text;
    else if (event.delta.type === "input_json_delta") text += event.delta.partial_json;
  }
  return text;
});
