#!/usr/bin/env node
// The official `@google/genai` package, unchanged, streaming generateContent:
//   python -m emulator conform --dialect gemini \
//     --cmd 'node examples/node/gemini.mjs {url} {prompt} {timeout}'
import {GoogleGenAI} from "@google/genai";
import {pythonJson, run} from "./run.mjs";

await run(async (url, prompt, timeout) => {
  const ai = new GoogleGenAI({apiKey: "conformance", httpOptions: {baseUrl: url, timeout}});
  const stream = await ai.models.generateContentStream({model: "gemini-2.5-flash", contents: prompt});
  let text = "";
  for await (const chunk of stream) {
    for (const part of chunk.candidates?.[0]?.content?.parts ?? []) {
      if (part.functionCall) text += pythonJson(part.functionCall.args ?? {});  // a call is whole
      else if (part.text && !part.thought) text += part.text;  // a thought is not the reply
    }
  }
  return text;
});
