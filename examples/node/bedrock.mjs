#!/usr/bin/env node
// The official `@aws-sdk/client-bedrock-runtime` package, unchanged, streaming Converse:
//   python -m emulator conform --dialect bedrock \
//     --cmd 'node examples/node/bedrock.mjs {url} {prompt} {timeout}'
//
// Its default handler speaks HTTP/2, and to an http:// endpoint without TLS it tries
// HTTP/2 with prior knowledge, which the emulator (HTTP/1.1) does not speak: hand it
// the SDK's own HTTP/1.1 handler, as for any local endpoint.
import {run} from "./run.mjs";

process.removeAllListeners("warning");  // its notice on Node 20 is not the client's answer
const {BedrockRuntimeClient, ConverseStreamCommand} = await import("@aws-sdk/client-bedrock-runtime");
const {NodeHttpHandler} = await import("@smithy/node-http-handler");

await run(async (url, prompt, timeout) => {
  const client = new BedrockRuntimeClient({
    region: "us-east-1",
    endpoint: url,
    credentials: {accessKeyId: "conformance", secretAccessKey: "conformance"},
    maxAttempts: 1,
    // An idle socket fails after `timeout` (its requestTimeout only logs a warning by default).
    requestHandler: new NodeHttpHandler({socketTimeout: timeout, connectionTimeout: timeout}),
  });
  const answer = await client.send(new ConverseStreamCommand({
    modelId: "anthropic.claude-3-5-haiku-20241022-v1:0",
    messages: [{role: "user", content: [{text: prompt}]}],
  }));
  const blocks = [];  // by content block: the text, then each call's input
  for await (const event of answer.stream) {
    const block = event.contentBlockDelta;
    if (!block) continue;
    const piece = block.delta?.text ?? block.delta?.toolUse?.input ?? "";
    blocks[block.contentBlockIndex] = (blocks[block.contentBlockIndex] ?? "") + piece;
  }
  return blocks.join("");
});
