import type { z } from 'zod';

/**
 * One admin API route, declared once: the Express router and the OpenAPI document are both built from
 * these declarations, so they cannot disagree.
 */
export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface ApiRequest<P, Q, B> {
  params: P;
  query: Q;
  body: B;
}

export interface ApiResult {
  status: number;
  body?: unknown;
}

export interface Route<P = unknown, Q = unknown, B = unknown> {
  method: Method;
  /** Express-style path, e.g. /agents/:id (mounted under /api). */
  path: string;
  summary: string;
  tag: string;
  params?: z.ZodType<P>;
  query?: z.ZodType<Q>;
  body?: z.ZodType<B>;
  /** Schema of the success body, for the OpenAPI document. */
  response?: z.ZodType;
  successStatus: number;
  /** Error statuses this route can answer besides 400/401 (for the document). */
  errors?: number[];
  handler(req: ApiRequest<P, Q, B>): Promise<ApiResult>;
}

/** Keeps each route's generic types while collecting them in one array. */
export function route<P, Q, B>(r: Route<P, Q, B>): Route {
  return r as unknown as Route;
}
