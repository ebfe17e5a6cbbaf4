/* global clearTimeout */
// A local, deterministic stand-in for an OpenAI-compatible Chat Completions endpoint, so llm steps
// run with no provider and no internet. Web-standard APIs only: `npm start` serves it with Node
// (scripts/serve-fetch.mjs, on 127.0.0.1:8790 by default) and the workers tests run it inside
// workerd (test/upstream/worker.mjs routes `/llm/…` to it).
//
//   llmStandin({ apiKey } = {})  → async (request: Request) => Response; state (the call log) lives
//                                  in the handler's closure
//
// Routes (any prefix, so both http://127.0.0.1:8790/v1 and http://127.0.0.1:9999/llm/v1 are base URLs):
//   POST …/chat/completions   { model, messages: [{ role, content }], max_tokens?, temperature?,
//                             response_format? } → an OpenAI `chat.completion`:
//                             { id, object, created, model, choices: [{ index: 0, message: { role:
//                             "assistant", content }, finish_reason }], usage: { prompt_tokens,
//                             completion_tokens, total_tokens } }
//                             With `apiKey` set, `Authorization: Bearer <apiKey>` is required (401).
//                             A malformed body is a 400 `invalid_request_error`. Errors are OpenAI's
//                             shape: { error: { message, type, param, code } }.
//   GET  …/_calls[?model=M]   { calls: [{ model, status, at }] }: every chat/completions request,
//                             refused ones too, in arrival order (`model` null when the body had
//                             none, `status` null while a slow one is still running, 499 when its
//                             client went away, `at` an ISO time)
//   DELETE …/_calls[?model=M] forgets the log (only model M's calls with `?model=`) → { cleared }
//
// Replies (the same request always gets the same text; `temperature` is accepted and ignored):
//   - no response_format (or `{ type: "text" }`): `Stand-in reply to: <the last user message's first
//     200 characters>`
//   - `{ type: "json_schema", json_schema: { name, schema, strict? } }`: JSON text of a value made to
//     satisfy the schema: every property of an object filled, enum → its first value, const,
//     strings ("stand-in <property>", minLength/maxLength, format date-time/date/time/email/uri/uuid),
//     numbers and integers (1, or minimum / exclusiveMinimum + 1, capped by maximum), booleans (true),
//     arrays (minItems items, default one), type arrays such as ["string", "null"] (the first
//     non-null type), anyOf/oneOf (the first branch), allOf (merged), local $ref. `pattern` is not
//     honoured.
//   - `{ type: "json_object" }`: `{"reply":"Stand-in reply to: …"}`
//
// Token counts (deterministic; characters are JavaScript string length, i.e. UTF-16 code units):
//   prompt_tokens     = ceil(total characters of all message contents / 4)
//   completion_tokens = ceil(reply characters / 4)
//   total_tokens      = prompt_tokens + completion_tokens
// With `max_tokens` (or `max_completion_tokens`), a reply longer than max_tokens × 4 characters is
// cut to that length and finish_reason is "length" (so completion_tokens = max_tokens); else "stop".
//
// Misbehaviour on request, by model name (anything after a first ":" is a free tag, so
// `standin-429:my-test` behaves as `standin-429` and its calls can be counted apart with ?model=):
//   standin-429             429, `Retry-After: 1`, error type and code "rate_limit_exceeded"
//   standin-500             500, error type "server_error"
//   standin-slow            answers normally after 5 s; standin-slow-<ms> after <ms> ms. A client
//                           that goes away (request.signal) ends it (logged as 499)
//   standin-invalid-json    when JSON was asked: `Sure! Here is the JSON: {oops` (not JSON)
//   standin-wrong-schema    when JSON was asked: valid JSON that does not match the schema
//                           (`{"unexpected":true}` for an object schema with required properties,
//                           or a value of a type the schema does not allow)
//   standin-context-length  400 { error: { type: "invalid_request_error", code: "context_length_exceeded" } }
// Every other model (standin-small, standin-large, gpt-4o-mini, …) answers normally. Auth and body
// checks come first: a misbehaving model with a wrong key is still a 401.

const REPLY_PREFIX = "Stand-in reply to: ";
const QUOTE_CHARS = 200;
const SLOW_DEFAULT_MS = 5000;
const MAX_LOG = 10_000;
const ROLES = new Set(["system", "developer", "user", "assistant", "tool"]);

function json(value, status = 200, headers = {}) {
  return new Response(JSON.stringify(value), { status, headers: { "content-type": "application/json", ...headers } });
}

function openAiError(status, message, { type = "invalid_request_error", code = null, param = null, headers } = {}) {
  return json({ error: { message, type, param, code } }, status, headers);
}

function isObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A message's content as text: a string, or the text of an array of `{ type: "text", text }` parts. */
function contentText(content) {
  if (typeof content === "string") return content;
  if (content === null || content === undefined) return "";
  if (Array.isArray(content)) return content.map((p) => (isObject(p) && typeof p.text === "string" ? p.text : "")).join("");
  return undefined;
}

function tokens(chars) {
  return Math.ceil(chars / 4);
}

/** The misbehaviour a model name asks for: its part before the first ":" decides. */
function behaviourOf(model) {
  const stem = model.split(":")[0];
  const slow = /^standin-slow(?:-(\d+))?$/.exec(stem);
  if (slow) return { kind: "slow", ms: slow[1] === undefined ? SLOW_DEFAULT_MS : Number(slow[1]) };
  switch (stem) {
    case "standin-429":
      return { kind: "429" };
    case "standin-500":
      return { kind: "500" };
    case "standin-invalid-json":
      return { kind: "invalid-json" };
    case "standin-wrong-schema":
      return { kind: "wrong-schema" };
    case "standin-context-length":
      return { kind: "context-length" };
    default:
      return { kind: "normal" };
  }
}

/** Checks a request body: `[message, param]` of its first problem, or null when it is well formed. */
function bodyProblem(body) {
  if (!isObject(body)) return ["the body must be a JSON object", null];
  if (typeof body.model !== "string" || body.model === "") return ["model: a non-empty string is required", "model"];
  if (!Array.isArray(body.messages) || body.messages.length === 0) return ["messages: a non-empty array is required", "messages"];
  for (const [i, m] of body.messages.entries()) {
    if (!isObject(m) || !ROLES.has(m.role)) return [`messages[${i}].role: one of ${[...ROLES].join(", ")} is required`, `messages[${i}].role`];
    if (contentText(m.content) === undefined) return [`messages[${i}].content: a string is required`, `messages[${i}].content`];
  }
  for (const name of ["max_tokens", "max_completion_tokens"]) {
    const v = body[name];
    if (v !== undefined && v !== null && !(Number.isInteger(v) && v >= 1)) return [`${name}: a positive integer is required`, name];
  }
  const t = body.temperature;
  if (t !== undefined && t !== null && !(typeof t === "number" && t >= 0 && t <= 2)) return ["temperature: a number from 0 to 2 is required", "temperature"];
  if (body.stream === true) return ["stream: streaming is not supported by the stand-in", "stream"];
  const rf = body.response_format;
  if (rf !== undefined && rf !== null) {
    if (!isObject(rf) || !["text", "json_object", "json_schema"].includes(rf.type)) {
      return ["response_format.type: one of text, json_object, json_schema is required", "response_format.type"];
    }
    if (rf.type === "json_schema") {
      const js = rf.json_schema;
      if (!isObject(js) || typeof js.name !== "string" || js.name === "") return ["response_format.json_schema.name: a non-empty string is required", "response_format.json_schema"];
      if (js.schema !== undefined && typeof js.schema !== "boolean" && !isObject(js.schema)) {
        return ["response_format.json_schema.schema: a JSON Schema object is required", "response_format.json_schema.schema"];
      }
    }
  }
  return null;
}

// ---- values for JSON Schemas ----------------------------------------------------------------------

const FORMATS = {
  "date-time": "2026-01-01T00:00:00Z",
  date: "2026-01-01",
  time: "00:00:00Z",
  email: "standin@example.com",
  uri: "https://example.com/standin",
  url: "https://example.com/standin",
  uuid: "00000000-0000-4000-8000-000000000000",
  hostname: "example.com",
  ipv4: "192.0.2.1",
};

/** A local `$ref` ("#/$defs/x") resolved against the root schema; undefined when it is not one. */
function resolveRef(root, ref) {
  if (typeof ref !== "string" || !ref.startsWith("#")) return undefined;
  let node = root;
  for (const raw of ref.slice(1).split("/").slice(1)) {
    const key = decodeURIComponent(raw).replaceAll("~1", "/").replaceAll("~0", "~");
    if (!isObject(node) && !Array.isArray(node)) return undefined;
    node = node[key];
  }
  return node;
}

/** `schema` with its `$ref` followed and its `allOf` merged into one schema. */
function flatten(schema, root, depth = 0) {
  if (!isObject(schema) || depth > 16) return isObject(schema) ? schema : {};
  let s = schema;
  if (s.$ref !== undefined) {
    const { $ref, ...rest } = s;
    s = { ...flatten(resolveRef(root, $ref) ?? {}, root, depth + 1), ...rest };
  }
  if (Array.isArray(s.allOf)) {
    const { allOf, ...rest } = s;
    const merged = { ...rest };
    for (const part of allOf.map((p) => flatten(p, root, depth + 1))) {
      for (const [k, v] of Object.entries(part)) {
        if (k === "properties") merged.properties = { ...(merged.properties ?? {}), ...v };
        else if (k === "required") merged.required = [...new Set([...(merged.required ?? []), ...v])];
        else if (!(k in merged)) merged[k] = v;
      }
    }
    s = merged;
  }
  return s;
}

/** The JSON types a schema allows (undefined: any), "integer" standing apart from "number". */
function typesOf(s) {
  if (typeof s.type === "string") return [s.type];
  if (Array.isArray(s.type)) return s.type;
  if (isObject(s.properties) || Array.isArray(s.required) || s.additionalProperties !== undefined) return ["object"];
  if (s.items !== undefined || Array.isArray(s.prefixItems) || s.minItems !== undefined) return ["array"];
  if (s.minLength !== undefined || s.maxLength !== undefined || s.format !== undefined || s.pattern !== undefined) return ["string"];
  if (s.minimum !== undefined || s.maximum !== undefined || s.exclusiveMinimum !== undefined || s.exclusiveMaximum !== undefined) return ["number"];
  return undefined;
}

function numberFor(s, integer, index) {
  let v = 1;
  if (typeof s.minimum === "number") v = s.minimum;
  else if (typeof s.exclusiveMinimum === "number") v = s.exclusiveMinimum + 1;
  v += index;
  if (typeof s.maximum === "number" && v > s.maximum) v = s.maximum;
  if (typeof s.exclusiveMaximum === "number" && v >= s.exclusiveMaximum) {
    const low = typeof s.minimum === "number" ? s.minimum : typeof s.exclusiveMinimum === "number" ? s.exclusiveMinimum : s.exclusiveMaximum - 2;
    v = (low + s.exclusiveMaximum) / 2;
  }
  return integer ? Math.ceil(v) : v;
}

function stringFor(s, name, index) {
  let v = (typeof s.format === "string" && FORMATS[s.format]) || `stand-in ${name ?? "text"}${index > 0 ? ` ${index + 1}` : ""}`;
  if (typeof s.minLength === "number" && v.length < s.minLength) v = v.padEnd(s.minLength, "x");
  if (typeof s.maxLength === "number" && v.length > s.maxLength) v = v.slice(0, s.maxLength);
  return v;
}

/** A value meant to satisfy `schema` (name: the property it fills; index: its place in an array). */
function valueFor(schema, root, name, index = 0, depth = 0) {
  if (schema === true || schema === undefined) return stringFor({}, name, index);
  if (schema === false || depth > 12) return null;
  const s = flatten(schema, root);
  if (s.const !== undefined) return s.const;
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum[index % s.enum.length];
  for (const key of ["anyOf", "oneOf"]) {
    if (Array.isArray(s[key]) && s[key].length > 0) {
      const { [key]: branches, ...rest } = s;
      const first = branches.find((b) => !(isObject(b) && b.type === "null")) ?? branches[0];
      return valueFor({ ...rest, ...flatten(first, root) }, root, name, index, depth + 1);
    }
  }
  const types = typesOf(s) ?? ["string"];
  const type = types.find((t) => t !== "null") ?? "null";
  switch (type) {
    case "object": {
      const out = {};
      const props = isObject(s.properties) ? s.properties : {};
      for (const [key, sub] of Object.entries(props)) out[key] = valueFor(sub, root, key, 0, depth + 1);
      for (const key of Array.isArray(s.required) ? s.required : []) {
        if (!(key in out)) out[key] = valueFor(isObject(s.additionalProperties) ? s.additionalProperties : true, root, key, 0, depth + 1);
      }
      return out;
    }
    case "array": {
      const prefix = Array.isArray(s.prefixItems) ? s.prefixItems : Array.isArray(s.items) ? s.items : [];
      const itemSchema = Array.isArray(s.items) ? (s.additionalItems ?? true) : (s.items ?? true);
      let count = Math.max(typeof s.minItems === "number" ? s.minItems : 1, prefix.length);
      if (typeof s.maxItems === "number") count = Math.min(count, s.maxItems);
      const item = name === undefined ? "item" : `${name} item`;
      return Array.from({ length: count }, (_, i) => valueFor(i < prefix.length ? prefix[i] : itemSchema, root, item, i, depth + 1));
    }
    case "integer":
      return numberFor(s, true, index);
    case "number":
      return numberFor(s, false, index);
    case "boolean":
      return true;
    case "null":
      return null;
    default:
      return stringFor(s, name, index);
  }
}

function jsonType(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

/** A rough check (type, required, closed objects, enum/const) of `value` against the root of `schema`. */
function roughlyMatches(value, schema, root) {
  if (schema === true || schema === undefined) return true;
  if (schema === false) return false;
  const s = flatten(schema, root);
  if (s.const !== undefined) return JSON.stringify(s.const) === JSON.stringify(value);
  if (Array.isArray(s.enum)) return s.enum.some((e) => JSON.stringify(e) === JSON.stringify(value));
  for (const key of ["anyOf", "oneOf"]) if (Array.isArray(s[key])) return s[key].some((b) => roughlyMatches(value, b, root));
  const types = typesOf(s);
  const t = jsonType(value);
  if (types && !types.includes(t) && !(t === "integer" && types.includes("number"))) return false;
  if (t === "object") {
    if (Array.isArray(s.required) && s.required.some((k) => !(k in value))) return false;
    const props = isObject(s.properties) ? s.properties : {};
    if (s.additionalProperties === false && Object.keys(value).some((k) => !(k in props))) return false;
  }
  return true;
}

/** Valid JSON that the schema refuses (as far as a rough check can tell). */
function wrongValueFor(schema) {
  const candidates = [{ unexpected: true }, ["unexpected"], "unexpected", 1.5, true, null];
  return candidates.find((c) => !roughlyMatches(c, schema, schema)) ?? { unexpected: true };
}

// ---- the handler ---------------------------------------------------------------------------------

function sleep(ms, signal) {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const timer = setTimeout(() => resolve(true), ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}

/** The reply text for a well-formed body, before any max_tokens cut. */
function replyText(body, behaviour) {
  const lastUser = [...body.messages].reverse().find((m) => m.role === "user") ?? body.messages[body.messages.length - 1];
  const text = `${REPLY_PREFIX}${contentText(lastUser.content).slice(0, QUOTE_CHARS)}`;
  const rf = body.response_format;
  const wantsJson = isObject(rf) && (rf.type === "json_object" || rf.type === "json_schema");
  if (!wantsJson) return text;
  if (behaviour.kind === "invalid-json") return "Sure! Here is the JSON: {oops";
  if (rf.type === "json_object") return JSON.stringify(behaviour.kind === "wrong-schema" ? ["unexpected"] : { reply: text });
  const schema = rf.json_schema.schema ?? true;
  return JSON.stringify(behaviour.kind === "wrong-schema" ? wrongValueFor(schema) : valueFor(schema, schema, undefined));
}

export function llmStandin({ apiKey } = {}) {
  /** @type {{ model: string | null; status: number | null; at: string }[]} */
  let calls = [];
  let served = 0;

  async function chatCompletions(request, entry) {
    const raw = await request.text();
    let body;
    try {
      body = JSON.parse(raw);
    } catch {
      body = undefined;
    }
    if (isObject(body) && typeof body.model === "string") entry.model = body.model;

    if (apiKey !== undefined && apiKey !== null && apiKey !== "") {
      const auth = request.headers.get("authorization") ?? "";
      if (auth !== `Bearer ${apiKey}`) {
        return openAiError(401, auth === "" ? "You didn't provide an API key (Authorization: Bearer <key>)." : "Incorrect API key provided.", {
          code: "invalid_api_key",
        });
      }
    }
    if (body === undefined) return openAiError(400, "The body is not valid JSON.", { code: "invalid_json" });
    const problem = bodyProblem(body);
    if (problem) return openAiError(400, problem[0], { code: "invalid_value", param: problem[1] });

    const behaviour = behaviourOf(body.model);
    if (behaviour.kind === "429") {
      return openAiError(429, `Rate limit reached for ${body.model} (stand-in).`, { type: "rate_limit_exceeded", code: "rate_limit_exceeded", headers: { "retry-after": "1" } });
    }
    if (behaviour.kind === "500") return openAiError(500, "The server had an error while processing your request (stand-in).", { type: "server_error" });
    if (behaviour.kind === "context-length") {
      return openAiError(400, `This model's maximum context length is exceeded (stand-in ${body.model}).`, { code: "context_length_exceeded", param: "messages" });
    }
    if (behaviour.kind === "slow" && !(await sleep(behaviour.ms, request.signal))) return new Response(null, { status: 499 });

    const promptChars = body.messages.reduce((n, m) => n + contentText(m.content).length, 0);
    let content = replyText(body, behaviour);
    let finishReason = "stop";
    const maxTokens = body.max_tokens ?? body.max_completion_tokens ?? undefined;
    if (maxTokens !== undefined && content.length > maxTokens * 4) {
      content = content.slice(0, maxTokens * 4);
      finishReason = "length";
    }
    const promptTokens = tokens(promptChars);
    const completionTokens = tokens(content.length);
    served += 1;
    return json({
      id: `chatcmpl-standin-${served}`,
      object: "chat.completion",
      created: Math.floor(Date.now() / 1000),
      model: body.model,
      choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: finishReason }],
      usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
    });
  }

  return async function handle(request) {
    const url = new URL(request.url);
    // A body nobody needs is still read before the answer (workerd reports one left unread as an error).
    const refuse = async (response) => {
      await request.arrayBuffer().catch(() => undefined);
      return response;
    };
    const path = url.pathname.replace(/\/+$/, "");
    if (path.endsWith("/_calls")) {
      const model = url.searchParams.get("model");
      const mine = (c) => model === null || c.model === model;
      if (request.method === "DELETE") {
        await request.arrayBuffer().catch(() => undefined);
        const before = calls.length;
        calls = calls.filter((c) => !mine(c));
        return json({ cleared: before - calls.length });
      }
      if (request.method === "GET") return json({ calls: calls.filter(mine) });
      return refuse(openAiError(405, `${request.method} is not allowed on ${url.pathname}`, { code: "method_not_allowed" }));
    }
    if (path.endsWith("/chat/completions")) {
      if (request.method !== "POST") return refuse(openAiError(405, `${request.method} is not allowed on ${url.pathname}; use POST`, { code: "method_not_allowed" }));
      const entry = { model: null, status: null, at: new Date().toISOString() };
      calls.push(entry);
      if (calls.length > MAX_LOG) calls.splice(0, calls.length - MAX_LOG);
      try {
        const response = await chatCompletions(request, entry);
        entry.status = response.status;
        return response;
      } catch (error) {
        entry.status = 500;
        return openAiError(500, `The stand-in failed: ${error instanceof Error ? error.message : String(error)}`, { type: "server_error" });
      }
    }
    return refuse(openAiError(404, `Unknown request URL: ${request.method} ${url.pathname}. The stand-in answers POST …/chat/completions.`, { code: "unknown_url" }));
  };
}
