// What every adapter here shares: `node ADAPTER.mjs URL PROMPT TIMEOUT` (as the
// conformance kit's --cmd fills them in), the reply on stdout, and on any failure
// the error's name and message on stderr and exit status 1.
export async function run(reply) {
  const [url, prompt, idle = "60"] = process.argv.slice(2);
  if (!url || prompt === undefined) {
    process.stderr.write("usage: node ADAPTER.mjs URL PROMPT [TIMEOUT_SECONDS]\n");
    process.exit(2);
  }
  // A pipe takes a large write a piece at a time: exit once it has all of it.
  const written = (stream, data) => new Promise((done) => stream.write(data, done));
  try {
    const text = await reply(url, prompt, Number(idle) * 1000);
    await written(process.stdout, text);
    process.exit(0);
  } catch (error) {
    await written(process.stderr, `${error?.name ?? "Error"}: ${error?.message ?? String(error)}\n`);
    process.exit(1);
  }
}

// A call's arguments as Python's json.dumps writes them (", " and ": "), so the
// text can be compared with the scenario's.
export function pythonJson(value) {
  if (Array.isArray(value)) return `[${value.map(pythonJson).join(", ")}]`;
  if (value !== null && typeof value === "object") {
    return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${pythonJson(v)}`).join(", ")}}`;
  }
  return JSON.stringify(value);
}
