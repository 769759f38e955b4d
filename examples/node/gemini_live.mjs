#!/usr/bin/env node
// The official `@google/genai` package's Live client for Node, unchanged: one text turn,
// read to turnComplete, each message awaited at most the idle timeout. It dials wss://
// whatever the base URL says: serve with --tls (conform --tls sets NODE_EXTRA_CA_CERTS):
//   python -m emulator conform --dialect gemini-live --tls \
//     --cmd 'node examples/node/gemini_live.mjs {url} {prompt} {timeout}'
import {GoogleGenAI, Modality} from "@google/genai";
import {pythonJson, run} from "./run.mjs";

await run(async (url, prompt, timeout) => {
  const ai = new GoogleGenAI({apiKey: "conformance", httpOptions: {baseUrl: url}});
  let session;
  try {
    return await new Promise((resolve, reject) => {
      let text = "";
      const calls = [];
      let timer;
      const idle = () => {
        clearTimeout(timer);
        timer = setTimeout(() => reject(new Error(`no message for ${timeout} ms`)), timeout);
      };
      idle();
      ai.live.connect({
        model: "gemini-live-2.5-flash",
        config: {responseModalities: [Modality.TEXT]},
        callbacks: {
          onmessage: (message) => {
            idle();
            if (message.toolCall) {
              for (const call of message.toolCall.functionCalls ?? []) calls.push(pythonJson(call.args ?? {}));
              clearTimeout(timer);
              resolve(text + calls.join(""));
            }
            for (const part of message.serverContent?.modelTurn?.parts ?? []) {
              if (part.text && !part.thought) text += part.text;
            }
            if (message.serverContent?.turnComplete) {
              clearTimeout(timer);
              resolve(text);
            }
          },
          onerror: (event) => reject(new Error(event?.message ?? String(event?.error ?? event))),
          onclose: (event) => reject(new Error(`the socket closed: ${event?.code} ${event?.reason ?? ""}`)),
        },
      }).then((opened) => {
        session = opened;
        opened.sendClientContent({turns: [{role: "user", parts: [{text: prompt}]}], turnComplete: true});
      }, reject);
    });
  } finally {
    session?.close();
  }
});
