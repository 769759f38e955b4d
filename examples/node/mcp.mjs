#!/usr/bin/env node
// The official TypeScript MCP SDK (`@modelcontextprotocol/sdk`), unchanged, over
// Streamable HTTP: initialize, then call the emulator's `reply` tool with the prompt:
//   python -m emulator conform --dialect mcp \
//     --cmd 'node examples/node/mcp.mjs {url} {prompt} {timeout}'
import {Client} from "@modelcontextprotocol/sdk/client/index.js";
import {StreamableHTTPClientTransport} from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {run} from "./run.mjs";

await run(async (url, prompt, timeout) => {
  const client = new Client({name: "conformance", version: "1.0.0"});
  const transport = new StreamableHTTPClientTransport(new URL(`${url}/mcp`));
  await client.connect(transport, {timeout});
  try {
    const result = await client.callTool({name: "reply", arguments: {prompt}}, undefined, {timeout});
    if (result.isError) throw new Error(`the tool said it failed: ${JSON.stringify(result.content)}`);
    return result.content.map((item) => item.text ?? "").join("");
  } finally {
    await client.close();
  }
});
