/**
 * Validates a SARIF log against the official schema, so the tests prove that `--sarif` writes what
 * code-scanning UIs accept.
 *
 * `sarif-schema-2.1.0.json` beside this file is the OASIS schema of SARIF 2.1.0 with errata 01
 * (`https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json`),
 * vendored byte for byte from oasis-tcs/sarif-spec (`Schemata/sarif-schema-2.1.0.json`, commit
 * 0a8091f7d4057e57b6d8d9b56129e5f918747b34). Do not edit it.
 *
 * That file declares JSON Schema draft-04 (`$schema` draft-04, its identifier in `id`), which Ajv 8
 * no longer reads. It uses no draft-04-only keyword (no boolean `exclusiveMinimum`/`exclusiveMaximum`),
 * and it already relies on the later `uri-reference` format, so it means the same under draft-07. The
 * SARIF committee's own note on the move says the only difference that matters is `id` becoming `$id`
 * (oasis-tcs/sarif-spec#421). So the validator compiles a copy that says draft-07 and moves `id` to
 * `$id`; the file on disk stays as published.
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

const DRAFT_07 = 'http://json-schema.org/draft-07/schema#';

let validate: ValidateFunction | undefined;

function compile(): ValidateFunction {
  const published = JSON.parse(readFileSync(new URL('./sarif-schema-2.1.0.json', import.meta.url), 'utf8')) as Record<
    string,
    unknown
  >;
  const { id, $schema, ...rest } = published;
  if ($schema !== 'http://json-schema.org/draft-04/schema#' || typeof id !== 'string') {
    throw new Error('sarif-schema-2.1.0.json is not the draft-04 OASIS file this validator expects');
  }
  const ajv = new Ajv({ allErrors: true, allowUnionTypes: true });
  // ajv-formats is CommonJS: under NodeNext its default import is the whole module.
  addFormats.default(ajv, ['uri', 'uri-reference', 'date-time']);
  return ajv.compile({ ...rest, $schema: DRAFT_07, $id: id });
}

function describe(error: ErrorObject): string {
  const where = error.instancePath === '' ? '/' : error.instancePath;
  const extra =
    error.keyword === 'additionalProperties'
      ? ` (${String(error.params.additionalProperty)})`
      : error.keyword === 'enum'
        ? ` (${JSON.stringify(error.params.allowedValues)})`
        : '';
  return `${where} ${error.message ?? error.keyword}${extra}`;
}

/** The schema errors of `log` as readable lines (`/runs/0/tool must have required property 'driver'`); empty when valid. */
export function validateSarif(log: unknown): string[] {
  validate ??= compile();
  if (validate(log)) return [];
  return (validate.errors ?? []).map(describe);
}
