/**
 * The published contract, checked on every answer: each response the e2e suite receives is
 * validated against the operation's response schema in the service's own `/openapi.json` (Ajv,
 * JSON Schema 2020-12, the dialect of OpenAPI 3.1), so a drift between the code and the document
 * fails a test. Every operation answered is also recorded, so the suite can prove that it covered
 * each operation of the document with a success and an error.
 */
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import { expect } from "vitest";

// ajv-formats is CommonJS with a default export.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

interface Operation {
  method: string;
  template: string;
  pattern: RegExp;
  operationId: string | undefined;
  responses: Record<string, { content?: Record<string, { schema?: unknown }>; headers?: Record<string, unknown> }>;
}

export interface OpenApiDocument {
  paths: Record<string, Record<string, { operationId?: string; responses?: Operation["responses"] }>>;
}

const METHODS = new Set(["get", "post", "put", "patch", "delete", "head", "options"]);

export class Contract {
  readonly operations: Operation[] = [];
  /** `METHOD template` → statuses seen. */
  readonly seen = new Map<string, Set<number>>();
  private readonly ajv: Ajv2020;
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(readonly document: OpenApiDocument) {
    this.ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false, validateFormats: true });
    addFormats(this.ajv);
    this.ajv.addSchema(document as object, "openapi");
    for (const [template, item] of Object.entries(document.paths)) {
      const pattern = new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\\?\{[^}]+\\?\}/g, "[^/]+")}$`);
      for (const [method, op] of Object.entries(item)) {
        if (!METHODS.has(method)) continue;
        this.operations.push({ method: method.toUpperCase(), template, pattern, operationId: op.operationId, responses: op.responses ?? {} });
      }
    }
  }

  /** A `$ref` within the document, followed; anything else as it is. */
  resolve(value: unknown): unknown {
    const ref = (value as { $ref?: unknown } | null)?.$ref;
    if (typeof ref !== "string" || !ref.startsWith("#/")) return value;
    let node: unknown = this.document;
    for (const part of ref.slice(2).split("/")) node = (node as Record<string, unknown>)[part.replace(/~1/g, "/").replace(/~0/g, "~")];
    return node;
  }

  /** The documented operation a request reaches, or undefined. */
  operationFor(method: string, path: string): Operation | undefined {
    const pathname = path.split("?")[0] ?? path;
    // A literal segment wins over a template segment (e.g. /v1/executions/bulk over /{id}).
    const candidates = this.operations.filter((o) => o.method === method.toUpperCase() && o.pattern.test(pathname));
    return candidates.sort((a, b) => b.template.replace(/\{[^}]+\}/g, "").length - a.template.replace(/\{[^}]+\}/g, "").length)[0];
  }

  /**
   * Asserts that the answer matches the document: a documented operation, a documented status,
   * the documented media type, and a body valid against its schema.
   */
  check(method: string, path: string, status: number, headers: Headers, body: unknown, hasBody: boolean): void {
    const contentType = headers.get("content-type");
    const op = this.operationFor(method, path);
    expect(op, `${method} ${path} is not an operation of /openapi.json`).toBeDefined();
    if (!op) return;
    const key = `${op.method} ${op.template}`;
    let statuses = this.seen.get(key);
    if (!statuses) this.seen.set(key, (statuses = new Set()));
    statuses.add(status);
    const response = op.responses[String(status)] ?? op.responses[`${String(status)[0]}XX`] ?? op.responses.default;
    expect(response, `${key} does not document status ${status}`).toBeDefined();
    if (!response) return;
    // Headers the document says are always there (X-Request-Id on every answer, Location on a
    // start). A 101 is read through the WebSocket API, which shows no headers.
    if (status !== 101) {
      for (const [name, declared] of Object.entries(response.headers ?? {})) {
        const header = this.resolve(declared) as { required?: boolean };
        if (header.required) expect(headers.has(name), `${key} ${status}: the documented header ${name} is missing`).toBe(true);
      }
    }
    const mediaType = (contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
    const content = response.content ?? {};
    if (!hasBody) return;
    expect(Object.keys(content), `${key} ${status}: ${mediaType} is not a documented media type`).toContain(mediaType);
    if (!content[mediaType]?.schema || mediaType === "text/event-stream") return;
    const pointer = `openapi#/paths/${escapePointer(op.template)}/${op.method.toLowerCase()}/responses/${status in op.responses ? status : "default"}/content/${escapePointer(mediaType)}/schema`;
    let validate = this.validators.get(pointer);
    if (!validate) {
      validate = this.ajv.compile({ $ref: pointer });
      this.validators.set(pointer, validate);
    }
    const valid = validate(body);
    expect(valid ? [] : validate.errors, `${key} ${status}: the body does not match the documented schema: ${JSON.stringify(body).slice(0, 800)}`).toEqual([]);
  }
}

export function escapePointer(segment: string): string {
  return segment.replace(/~/g, "~0").replace(/\//g, "~1");
}
