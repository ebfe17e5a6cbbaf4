import type { RouteHandler } from "@hono/zod-openapi";
import { InvalidStateError, NotFoundError } from "../../../services/errors";
import { executionNotFound, executionStub } from "../../execution-stub";
import { principalOf } from "../../middleware/guard";
import type { AppEnv } from "../../types";
import type { previewRetry } from "./redrive.routes";

export const preview: RouteHandler<typeof previewRetry, AppEnv> = async (c) => {
  const p = principalOf(c);
  const { id } = c.req.valid("param");
  const { from_step } = c.req.valid("query");
  const outcome = await executionStub(c.env, id).retryPreview(p.tenant, from_step);
  if (!outcome.ok) {
    switch (outcome.reason) {
      case "not_found":
        throw executionNotFound(id);
      case "step_not_found":
        throw new NotFoundError("STEP_NOT_FOUND", `Execution '${id}' has no step '${from_step}'.`);
      case "invalid_state":
        throw new InvalidStateError(from_step === undefined ? "retry" : "rerun", outcome.status, outcome.allowed);
    }
  }
  return c.json(outcome.preview, 200);
};
