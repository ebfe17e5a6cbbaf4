/**
 * What registration reports about a definition (see `validate-definition.ts`): one problem per
 * place, with a JSON Pointer and a stable code. Its own module so that a step kind's `check`
 * (`steps/<type>.ts`) and the validator share the vocabulary without importing each other.
 */
export type DefinitionProblemCode =
  | "DEFINITION_TOO_LARGE"
  | "DUPLICATE_STEP_ID"
  | "UNKNOWN_STEP"
  | "SELF_DEPENDENCY"
  | "CYCLE"
  | "EXPRESSION_SYNTAX"
  | "NOT_UPSTREAM"
  | "SECRET_NOT_ALLOWED"
  | "INVALID_INPUT_SCHEMA"
  | "INVALID_OUTPUT_SCHEMA"
  | "UNKNOWN_PLUGIN"
  | "INVALID_QUESTION"
  | "INVALID_APPROVAL"
  | "MAP_STEP_NEEDS"
  | "INVALID_MAP_ITEMS"
  | "INVALID_URL"
  | "INVALID_TIMESTAMP"
  | "UNKNOWN_ERROR_CODE"
  | "DUPLICATE_MODEL"
  | "INVALID_COST";

export interface DefinitionProblem {
  /** JSON Pointer into the definition, e.g. `/steps/2/needs/0`; `""` is the whole definition. */
  path: string;
  message: string;
  code: DefinitionProblemCode;
}
