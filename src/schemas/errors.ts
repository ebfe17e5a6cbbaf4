/**
 * Error shapes on the wire: RFC 9457 problem details, with a stable UPPER_SNAKE `code` and every
 * failing field listed in `errors`.
 */
import { z } from "@hono/zod-openapi";

export const FieldError = z
  .object({
    path: z.string().openapi({
      description: "JSON Pointer to the failing value within `in` (empty string for the whole value).",
      example: "/steps/2/needs/0",
    }),
    message: z.string().openapi({ example: "step 'notify' needs unknown step 'chek' (did you mean 'check'?)" }),
    code: z.string().optional().openapi({ example: "UNKNOWN_STEP" }),
    in: z.enum(["body", "query", "path", "header"]).optional(),
  })
  .openapi("FieldError");
export type FieldError = z.infer<typeof FieldError>;

export const Problem = z
  .object({
    type: z.string().openapi({ example: "urn:stepline:problem:validation-failed" }),
    title: z.string().openapi({ example: "Validation failed" }),
    status: z.number().int().openapi({ example: 400 }),
    detail: z.string().openapi({ example: "The request has 2 invalid fields." }),
    code: z.string().openapi({ example: "VALIDATION_FAILED" }),
    request_id: z.string(),
    errors: z.array(FieldError).optional(),
    current_status: z.string().optional().openapi({ description: "On INVALID_STATE: the execution's status now." }),
    allowed_actions: z.array(z.string()).optional().openapi({ description: "On INVALID_STATE: what that status allows." }),
    execution_id: z.string().optional().openapi({ description: "On EXECUTION_TIMED_OUT: the execution that timed out." }),
  })
  .openapi("Problem");
export type Problem = z.infer<typeof Problem>;
