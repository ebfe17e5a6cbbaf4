import { z } from "@hono/zod-openapi";
import { WorkflowDefinition } from "./definition";
import { PageQuery, Timestamp, page } from "./pages";

export const WorkflowIdParam = z.object({
  id: z.string().min(1).max(64).openapi({ param: { name: "id", in: "path" }, example: "invoice-review" }),
});

export const WorkflowVersionSummary = z
  .object({
    id: z.string().openapi({ example: "invoice-review" }),
    version: z.number().int().min(1).openapi({ example: 3 }),
    hash: z.string().openapi({ description: "SHA-256 (hex) of the definition's canonical JSON.", example: "9f2c…" }),
    name: z.string(),
    description: z.string().optional(),
    archived: z.boolean(),
    created_at: Timestamp,
  })
  .openapi("WorkflowVersionSummary");
export type WorkflowVersionSummary = z.infer<typeof WorkflowVersionSummary>;

export const WorkflowVersion = WorkflowVersionSummary.extend({ definition: WorkflowDefinition }).openapi("WorkflowVersion");
export type WorkflowVersion = z.infer<typeof WorkflowVersion>;

export const WorkflowPage = page(WorkflowVersion, "WorkflowPage");
export const WorkflowVersionPage = page(WorkflowVersionSummary, "WorkflowVersionPage");

export const GetWorkflowQuery = z.object({
  version: z.coerce.number().int().min(1).optional().openapi({ description: "A version number; the latest when omitted." }),
});

export const ListWorkflowsQuery = PageQuery.extend({
  archived: z.enum(["true", "false"]).optional().openapi({ description: "Only archived (true) or only active (false) workflows." }),
});
