/** The inbox (SPEC §10): what executions wait for people (or callers) to do, as `GET /v1/inbox` lists it. */
import { z } from "@hono/zod-openapi";
import { PageQuery, Timestamp, page } from "./pages";

export const INBOX_KINDS = ["approval", "answers", "event", "budget"] as const;
export type InboxKind = (typeof INBOX_KINDS)[number];
export const INBOX_OUTCOMES = ["approved", "rejected", "answered", "received", "raised", "expired", "cancelled"] as const;
export type InboxOutcome = (typeof INBOX_OUTCOMES)[number];

/** Whose items an inbox change is about. */
export interface InboxOwner {
  tenant: string;
  executionId: string;
  workflowId: string;
}

/** One change to the inbox, derived from a transition's events (engine/inbox.ts) and sent to D1 through the outbox. */
export type InboxChange =
  /** An item opens (or opens again): pending. */
  | { op: "open"; kind: InboxKind; stepId: string | null; requestedAt: number; expiresAt: string | null; summary: string }
  /** An item is done, with how it ended. `kind` null: whichever item of the step is pending. */
  | { op: "close"; kind: InboxKind | null; stepId: string | null; outcome: InboxOutcome; by: string | null; at: number }
  /** The execution ended: every item still pending is done, `cancelled`. */
  | { op: "close_all"; at: number };

export const InboxItem = z
  .object({
    execution_id: z.string(),
    workflow_id: z.string(),
    kind: z.enum(INBOX_KINDS).openapi({ description: "`approval`: a gate to decide; `answers`: questions; `event`: a signal to send; `budget`: a budget to raise." }),
    step_id: z.string().optional().openapi({ description: "The step that waits; absent for the execution's own approval gate." }),
    requested_at: Timestamp,
    expires_at: Timestamp.optional(),
    status: z.enum(["pending", "done"]),
    outcome: z.enum(INBOX_OUTCOMES).optional().openapi({ description: "How a done item ended; `cancelled`: the execution ended first." }),
    summary: z.string().openapi({ description: "What is asked, in a line." }),
    decided_by: z.string().optional().openapi({ description: "Key id of who decided or answered." }),
    decided_at: Timestamp.optional(),
  })
  .openapi("InboxItem", {
    example: {
      execution_id: "ex_8f14e45fceea167a5a36dedd4bea2543",
      workflow_id: "invoice-review",
      kind: "answers",
      step_id: "confirm",
      requested_at: "2026-11-22T10:15:00.000Z",
      status: "pending",
      summary: "Total is over 1000. Pay it?",
    },
  });
export type InboxItem = z.infer<typeof InboxItem>;

export const InboxPage = page(InboxItem, "InboxPage");

export const InboxQuery = PageQuery.extend({
  kind: z.enum(INBOX_KINDS).optional(),
  status: z.enum(["pending", "done"]).optional().openapi({ description: "`pending`: waiting for someone now." }),
  workflow_id: z.string().min(1).max(64).optional(),
});
