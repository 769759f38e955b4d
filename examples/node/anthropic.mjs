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
  const blocks = [];  // by content block: the text, then each call's input
  const add = (index, piece) => { blocks[index] = (blocks[index] ?? "") + piece; };
  for await (const event of stream) {
    if (event.type !== "content_block_delta") continue;
    if (event.delta.type === "text_delta") add(event.index, event.delta.text);
    else if (event.delta.type === "input_json_delta") add(event.index, event.delta.partial_json);
  }
  return blocks.join("");
});
