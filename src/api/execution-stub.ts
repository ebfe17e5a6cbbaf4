/** Reaching an execution's Durable Object from a route, by the id in its path. */
import { executionRpc, type ExecutionRpc } from "../durable/execution/client";
import { EXECUTION_ID_PATTERN } from "../schemas/executions";
import { NotFoundError } from "../services/errors";

export function executionNotFound(id: string): NotFoundError {
  return new NotFoundError("EXECUTION_NOT_FOUND", `No execution '${id}'.`);
}

/** The execution's Durable Object; ids that cannot exist are 404 without waking an object. */
export function executionStub(env: Env, id: string): ExecutionRpc {
  if (!EXECUTION_ID_PATTERN.test(id)) throw executionNotFound(id);
  return executionRpc(env, id);
}
