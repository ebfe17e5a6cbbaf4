/// <reference types="vite/client" />
/**
 * The step kinds (src/engine/steps/<type>.ts) on their own: each one's registration `check`
 * through a recording context, its `simulate` (what a dry run would do), and the registry against
 * the types the README says run today. The checks are also covered end to end, through
 * `validateDefinition`, in validate-definition.test.ts.
 */
import { describe, expect, it } from "vitest";
import type { ApprovalStep, HttpStep, InputStep, LlmStep, PluginStep, Step, StepType, TransformStep, WaitStep } from "../../src/schemas/definition";
import type { DefinitionProblemCode } from "../../src/engine/definition-problems";
import { parseTemplate } from "../../src/engine/expressions";
import { approvalKind } from "../../src/engine/steps/approval";
import { httpKind } from "../../src/engine/steps/http";
import { inputKind } from "../../src/engine/steps/input";
import { llmKind } from "../../src/engine/steps/llm";
import { pluginKind } from "../../src/engine/steps/plugin";
import { kindOf, stepKinds } from "../../src/engine/steps/registry";
import { transformKind } from "../../src/engine/steps/transform";
import type { ExpressionScope, SecretResolver, StepCheckContext, StepContext, StepKind, TemplateKind } from "../../src/engine/steps/types";
import { waitKind } from "../../src/engine/steps/wait";
import { UsageMeter } from "../../src/engine/usage";
import { NO_BUDGET } from "../../src/engine/budget";

const README = Object.values(import.meta.glob<string>("../../README.md", { query: "?raw", import: "default", eager: true }))[0] ?? "";

// ---------------------------------------------------------------------------------------------
// check

interface Recorded {
  problems: { path: string; code: DefinitionProblemCode; message: string }[];
  /** Every expression or template checked: where, and whether secrets were allowed there. */
  checked: { path: string; secrets: boolean }[];
}

function check<S extends Step>(kind: StepKind<S>, step: S, plugins?: readonly string[]): Recorded {
  const recorded: Recorded = { problems: [], checked: [] };
  const at = (path: readonly (string | number)[]) => `/${path.join("/")}`;
  const template = (text: string, path: readonly (string | number)[], options?: { secrets?: boolean }): TemplateKind => {
    recorded.checked.push({ path: at(path), secrets: options?.secrets ?? false });
    const parsed = parseTemplate(text);
    if (!parsed.ok) return "error";
    if (!parsed.hasExpressions) return "literal";
    return parsed.exact ? "exact" : "interpolated";
  };
  const walk = (value: unknown, path: readonly (string | number)[], options?: { secrets?: boolean }): void => {
    if (typeof value === "string") template(value, path, options);
    else if (typeof value === "object" && value !== null) {
      for (const [key, item] of Object.entries(value)) walk(item, [...path, key], options);
    }
  };
  const ctx: StepCheckContext = {
    plugins,
    problem: (path, code, message) => recorded.problems.push({ path: at(path), code, message }),
    expression: (_, path) => recorded.checked.push({ path: at(path), secrets: false }),
    template,
    templates: walk,
    suggestion: (name, candidates) => ([...candidates].some((c) => c.startsWith(name.slice(0, 4))) ? " (did you mean …?)" : ""),
  };
  kind.check?.(step, ctx);
  return recorded;
}

describe("check", () => {
  it("transform: checks its expression, without secrets", () => {
    const r = check(transformKind, { id: "t", type: "transform", expression: "input.a" } satisfies TransformStep);
    expect(r).toEqual({ problems: [], checked: [{ path: "/expression", secrets: false }] });
  });

  it("http: templates everywhere in the request, secrets allowed there", () => {
    const step: HttpStep = {
      id: "h",
      type: "http",
      request: { method: "POST", url: "https://x.example/{{ input.id }}", headers: { "a/b": "{{ secrets.T }}" }, query: { q: "1" }, body: { n: ["{{ input.n }}"] } },
    };
    const r = check(httpKind, step);
    expect(r.problems).toEqual([]);
    expect(r.checked).toEqual([
      { path: "/request/url", secrets: true },
      { path: "/request/headers/a/b", secrets: true }, // the recording context joins segments unescaped; validate-definition escapes them
      { path: "/request/query/q", secrets: true },
      { path: "/request/body/n/0", secrets: true },
    ]);
  });

  it("http: a literal URL must be absolute http(s); an interpolated one must start with a scheme", () => {
    const url = (u: string) => check(httpKind, { id: "h", type: "http", request: { method: "GET", url: u } }).problems.map((p) => [p.path, p.code]);
    expect(url("ftp://x.example/")).toEqual([["/request/url", "INVALID_URL"]]);
    expect(url("/relative")).toEqual([["/request/url", "INVALID_URL"]]);
    expect(url("ftp://{{ input.host }}/")).toEqual([["/request/url", "INVALID_URL"]]);
    expect(url("https://{{ input.host }}/")).toEqual([]);
    expect(url("{{ input.url }}")).toEqual([]);
  });

  it("wait: a literal `until` must be RFC 3339 with an offset; a template is checked, `seconds` needs nothing", () => {
    expect(check(waitKind, { id: "w", type: "wait", until: "2026-12-01 09:00" } as WaitStep).problems.map((p) => p.code)).toEqual(["INVALID_TIMESTAMP"]);
    expect(check(waitKind, { id: "w", type: "wait", until: "2026-12-01T09:00:00Z" } as WaitStep)).toEqual({ problems: [], checked: [{ path: "/until", secrets: false }] });
    expect(check(waitKind, { id: "w", type: "wait", until: "{{ input.at }}" } as WaitStep).problems).toEqual([]);
    expect(check(waitKind, { id: "w", type: "wait", seconds: 5 } as WaitStep)).toEqual({ problems: [], checked: [] });
  });

  it("plugin: the name must be registered (when names are checked); args are templates without secrets", () => {
    const step: PluginStep = { id: "p", type: "plugin", plugin: "json.validat", args: { data: "{{ input }}" } };
    const r = check(pluginKind, step, ["json.validate"]);
    expect(r.problems.map((p) => [p.path, p.code])).toEqual([["/plugin", "UNKNOWN_PLUGIN"]]);
    expect(r.problems[0]!.message).toContain("did you mean");
    expect(r.checked).toEqual([{ path: "/args/data", secrets: false }]);
    expect(check(pluginKind, step, []).problems[0]!.message).toContain("none are registered");
    expect(check(pluginKind, step).problems).toEqual([]); // names not checked
  });

  it("input: options only for choices, once each; literal defaults of the question's type; on_timeout default needs defaults", () => {
    const step: InputStep = {
      id: "i",
      type: "input",
      on_timeout: "default",
      questions: [
        { id: "c", prompt: "Pick {{ input.x }}", type: "choice" },
        { id: "d", prompt: "Pick", type: "choice", options: ["a", "a"], default: "b" },
        { id: "s", prompt: "Say", type: "string", options: ["x"] },
        { id: "n", prompt: "How many", type: "number", default: "{{ input.n }}" },
        { id: "b", prompt: "Sure", type: "boolean", default: "yes" },
      ],
    };
    const r = check(inputKind, step);
    expect(r.problems.map((p) => [p.path, p.code])).toEqual([
      ["/questions/0/options", "INVALID_QUESTION"],
      ["/questions/1/options/1", "INVALID_QUESTION"],
      ["/questions/1/default", "INVALID_QUESTION"],
      ["/questions/2/options", "INVALID_QUESTION"],
      ["/questions/4/default", "INVALID_QUESTION"],
      ["/on_timeout", "INVALID_QUESTION"],
    ]);
    expect(r.problems.at(-1)!.message).toContain("'c', 's' have none");
    expect(r.checked.map((c) => c.path)).toContain("/questions/3/default");
  });

  it("approval: its comment is a template without secrets", () => {
    expect(check(approvalKind, { id: "a", type: "approval", comment: "Ship {{ input.v }}?" } satisfies ApprovalStep)).toEqual({
      problems: [],
      checked: [{ path: "/comment", secrets: false }],
    });
    expect(check(approvalKind, { id: "a", type: "approval" } satisfies ApprovalStep)).toEqual({ problems: [], checked: [] });
  });
});

// ---------------------------------------------------------------------------------------------
// simulate

const scope: ExpressionScope = {
  input: { id: "inv-7", n: 3, v: "1.2" },
  steps: {},
  execution: { id: "ex-1", workflow_id: "wf", workflow_version: 1, attempt: 1, started_at: "2026-01-01T00:00:00.000Z" },
};
const NOW = Date.parse("2026-01-01T00:00:00Z");

function context(): StepContext & { sent: string[] } {
  const used = new Set<string>();
  const secrets: SecretResolver = {
    used,
    get(name) {
      if (name !== "TOKEN") return undefined;
      used.add("tok-SIM-9d2e");
      return "tok-SIM-9d2e";
    },
  };
  const sent: string[] = [];
  return {
    sent,
    executionId: "ex-1",
    stepId: "s",
    attempt: 1,
    scope,
    signal: new AbortController().signal,
    fetch: (input) => {
      sent.push(String(input));
      return Promise.reject(new Error("a dry run must not send"));
    },
    secrets,
    allowedPrivateHosts: [],
    now: () => NOW,
    deadlineAt: null,
    llm: { baseUrl: "http://127.0.0.1:9999/llm/v1", apiKey: "k", ai: undefined, defaultMaxTokens: 1024 },
    usage: new UsageMeter({}),
    budget: NO_BUDGET,
    callbackUrl: async () => "/v1/callbacks/test-token",
    children: { prepare: () => Promise.reject(new Error("a dry run must not start a child")) },
  };
}

describe("simulate", () => {
  it("http: sends nothing, completes with output null and says what it would send (secrets masked)", async () => {
    const ctx = context();
    const step: HttpStep = {
      id: "h",
      type: "http",
      request: {
        method: "POST",
        url: "https://billing.example/invoices/{{ input.id }}",
        headers: { authorization: "Bearer {{ secrets.TOKEN }}" },
        body: { n: "{{ input.n }}" },
      },
    };
    const simulation = await httpKind.simulate(step, ctx);
    expect(ctx.sent).toEqual([]);
    expect(simulation).toEqual({
      outcome: { kind: "completed", output: null },
      would_send: {
        method: "POST",
        url: "https://billing.example/invoices/inv-7",
        headers: { authorization: "Bearer ***", "content-type": "application/json", "idempotency-key": "ex-1:s" },
        body: '{"n":3}',
      },
    });
  });

  it("http: a request that could not be sent fails the same way in a dry run", async () => {
    const step: HttpStep = { id: "h", type: "http", request: { method: "GET", url: "http://127.0.0.1/admin" } };
    await expect(httpKind.simulate(step, context())).rejects.toMatchObject({ code: "SSRF_BLOCKED" });
  });

  it("llm: sends nothing, completes with output null and says what it would send (key and secrets masked)", async () => {
    const ctx = context();
    const step: LlmStep = { id: "l", type: "llm", model: "standin-small", system: "Token {{ secrets.TOKEN }}", prompt: "Pay {{ input.id }}?", max_tokens: 5 };
    const simulation = await llmKind.simulate(step, ctx);
    expect(ctx.sent).toEqual([]);
    expect(ctx.usage.calls).toEqual([]); // nothing called, nothing billed
    expect(simulation).toEqual({
      outcome: { kind: "completed", output: null },
      would_send: {
        method: "POST",
        url: "http://127.0.0.1:9999/llm/v1/chat/completions",
        headers: { authorization: "Bearer ***", "content-type": "application/json" },
        body: JSON.stringify({ model: "standin-small", messages: [{ role: "system", content: "Token ***" }, { role: "user", content: "Pay inv-7?" }], max_tokens: 5 }),
      },
    });
  });

  it("transform and plugin: run as usual", async () => {
    expect(await transformKind.simulate({ id: "t", type: "transform", expression: "input.n * 2" }, context())).toEqual({ outcome: { kind: "completed", output: 6 } });
    const plugin: PluginStep = { id: "p", type: "plugin", plugin: "text.template", args: { template: "n={{ input.n }}" } };
    expect(await pluginKind.simulate(plugin, context())).toEqual({ outcome: { kind: "completed", output: { text: "n=3" } } });
  });

  it("wait: fast-forwarded, completing at once with the output its sleep would end with", async () => {
    expect(await waitKind.simulate({ id: "w", type: "wait", seconds: 60 } as WaitStep, context())).toEqual({
      outcome: { kind: "completed", output: { waited_until: "2026-01-01T00:01:00.000Z" } },
    });
  });

  it("input and approval: ask as usual (the dry run answers and decides from its request)", async () => {
    const input: InputStep = { id: "i", type: "input", questions: [{ id: "ok", prompt: "Pay {{ input.id }}?", type: "boolean" }] };
    expect(await inputKind.simulate(input, context())).toEqual({ outcome: { kind: "ask", questions: [{ id: "ok", prompt: "Pay inv-7?", type: "boolean" }] } });
    expect(await approvalKind.simulate({ id: "a", type: "approval", comment: "Ship {{ input.v }}?" }, context())).toEqual({
      outcome: { kind: "approval", level: 1, comment: "Ship 1.2?" },
    });
  });
});

// ---------------------------------------------------------------------------------------------
// properties and the registry

describe("kinds", () => {
  it("purity, human waits and timeout defaults", () => {
    const defaults = { classStepMs: 30_000, approvalExpiryMs: (level: 1 | 2) => level * 1_000 };
    expect(transformKind.pure).toBe(true);
    expect([httpKind, waitKind, pluginKind, inputKind, approvalKind].map((k) => k.pure ?? false)).toEqual([false, false, false, false, false]);
    expect(inputKind.waitsFor).toBe("answers");
    expect(approvalKind.waitsFor).toBe("decision");
    expect([transformKind, httpKind, waitKind, pluginKind].map((k) => k.waitsFor)).toEqual([undefined, undefined, undefined, undefined]);
    expect(waitKind.attemptTimeoutMs?.({ id: "w", type: "wait", seconds: 1 } as WaitStep, defaults)).toBeNull();
    expect(inputKind.attemptTimeoutMs?.({ id: "i", type: "input", questions: [] }, defaults)).toBeNull();
    expect(approvalKind.attemptTimeoutMs?.({ id: "a", type: "approval", level: 2 }, defaults)).toBe(2_000);
    // The others take the class's step timeout (see stepTimeoutMs in retry.ts).
    expect([transformKind, httpKind, pluginKind].map((k) => k.attemptTimeoutMs)).toEqual([undefined, undefined, undefined]);
  });

  it("the registry has a kind for each type the README says runs today, and none for the others", () => {
    const line = README.split("\n- ").find((item) => item.startsWith("Step types that run today:"));
    expect(line).toBeDefined();
    const running = [...line!.split(": the execution waits")[0]!.matchAll(/`([a-z]+)`/g)].map((m) => m[1]!).filter((t) => !t.includes("."));
    expect(new Set(running)).toEqual(new Set(["transform", "http", "wait", "plugin", "approval", "llm", "input", "event", "workflow", "map"]));
    expect(Object.keys(stepKinds).sort()).toEqual([...running].sort());
    for (const type of running) expect(kindOf(type as StepType)).toBe(stepKinds[type as StepType]);
  });
});
