/**
 * The OpenAPI path items of the admin API endpoints the console added that answer no JSON (docs/console.md):
 * the live event stream and a call's recording. Written by hand: the route declarations (src/api/route.ts)
 * describe JSON routes only.
 */
const errorBody = { description: 'Error', content: { 'application/json': { schema: { type: 'object', properties: { error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } }, required: ['code', 'message'] } }, required: ['error'] } } } };

export const CONSOLE_API_PATHS: Record<string, Record<string, unknown>> = {
  '/api/live': {
    get: {
      summary: 'Live calls as server-sent events: `snapshot` {calls}, then `call` {call} and `transcript` {callId, legId, lines} as they are stored',
      tags: ['calls'],
      operationId: 'getLive',
      responses: {
        200: { description: 'An event stream (a comment line every 15 s as a heartbeat)', content: { 'text/event-stream': { schema: { type: 'string' } } } },
        401: errorBody,
        503: errorBody,
      },
      security: [{ adminToken: [] }],
    },
  },
  '/api/calls/{id}/recording': {
    get: {
      summary: 'The call’s recording (WAV), seekable with HTTP Range',
      tags: ['calls'],
      operationId: 'getCallsIdRecording',
      parameters: [
        { name: 'id', in: 'path', required: true, schema: { type: 'string' } },
        { name: 'Range', in: 'header', required: false, schema: { type: 'string', example: 'bytes=0-' }, description: 'one byte range (RFC 9110 §14.1.2)' },
      ],
      responses: {
        200: { description: 'The whole recording', content: { 'audio/wav': { schema: { type: 'string', format: 'binary' } } } },
        206: { description: 'The range asked for, with Content-Range', content: { 'audio/wav': { schema: { type: 'string', format: 'binary' } } } },
        400: errorBody,
        401: errorBody,
        404: errorBody,
        416: errorBody,
      },
      security: [{ adminToken: [] }],
    },
  },
};
