import { z } from 'zod';
import { REQUEST_EXAMPLES } from './examples';
import type { Route } from './route';
import { errorSchema } from './schemas';

/**
 * OpenAPI 3.1 for the admin API, generated from the same route declarations and zod schemas; `extraPaths`
 * are the hand-written path items of the endpoints that answer no JSON (src/console/api-paths.ts).
 */
export function buildOpenApi(routes: Route[], extraPaths: Record<string, Record<string, unknown>> = {}): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const json = (schema: z.ZodType) => {
    const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
    return rest;
  };
  const error = { description: 'Error', content: { 'application/json': { schema: json(errorSchema) } } };
  for (const r of routes) {
    const path = `/api${r.path.replace(/:([A-Za-z]+)/g, '{$1}')}`;
    const parameters: unknown[] = [];
    for (const [where, schema] of [['path', r.params], ['query', r.query]] as const) {
      if (!schema) continue;
      const js = json(schema) as { properties?: Record<string, unknown>; required?: string[] };
      for (const [name, s] of Object.entries(js.properties ?? {})) {
        parameters.push({ name, in: where, required: where === 'path' || (js.required ?? []).includes(name), schema: s });
      }
    }
    const responses: Record<string, unknown> = {
      [String(r.successStatus)]: r.response ? { description: 'OK', content: { 'application/json': { schema: json(r.response) } } } : { description: 'Done' },
      400: error,
      401: error,
    };
    for (const status of r.errors ?? []) responses[String(status)] = error;
    paths[path] ??= {};
    paths[path]![r.method] = {
      summary: r.summary,
      tags: [r.tag],
      operationId: `${r.method}${path.replace(/[{}]/g, '').replace(/\/(\w)/g, (_m, c: string) => c.toUpperCase()).replace(/[^A-Za-z0-9]/g, '')}`,
      ...(parameters.length ? { parameters } : {}),
      ...(r.body ? { requestBody: { required: true, content: { 'application/json': { schema: json(r.body), example: REQUEST_EXAMPLES[`${r.method} ${r.path}`] } } } } : {}),
      responses,
      security: [{ adminToken: [] }],
    };
  }
  for (const [path, item] of Object.entries(extraPaths)) paths[path] = { ...paths[path], ...item };
  return {
    openapi: '3.1.0',
    info: { title: 'Switchboard admin API', version: '0.1.0', description: 'Agents, numbers, transfer destinations, calls, post-call reports. Authenticate with the admin token as a bearer token.' },
    servers: [{ url: '/' }],
    components: { securitySchemes: { adminToken: { type: 'http', scheme: 'bearer' } } },
    paths,
  };
}
