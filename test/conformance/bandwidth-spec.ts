import fs from 'node:fs';
import { parse } from 'yaml';

/**
 * Bandwidth's own description of its callbacks: the OpenAPI component schemas in the SDK's
 * `bandwidth.yml` (BW §0 S1, §6.6), and a small validator for them. The vendor's file is the referee,
 * not our notes: types, enums, nullable, required, date-time formats, and additionalProperties — where
 * the spec says nothing, a field the schema does not list is an error, so a stand-in cannot drift into
 * sending fields Bandwidth never does.
 */
export interface OpenApiSchema {
  $ref?: string;
  type?: 'string' | 'number' | 'integer' | 'boolean' | 'object' | 'array';
  format?: string;
  enum?: unknown[];
  nullable?: boolean;
  required?: string[];
  properties?: Record<string, OpenApiSchema>;
  additionalProperties?: boolean | OpenApiSchema;
  items?: OpenApiSchema;
  maxLength?: number;
}

const SPEC_FILE = require.resolve('bandwidth-sdk/bandwidth.yml');

/**
 * Fields Bandwidth sends that its bandwidth.yml does not list, each with the evidence (BW §1.4, §6.7).
 * Allowed only on the event types named, never in general.
 */
export const SPEC_GAPS: Record<string, Record<string, { schema: OpenApiSchema; why: string }>> = {
  initiate: {
    privacy: { schema: { type: 'boolean' }, why: 'BW §1.4: sent on initiate in a live capture (Bandwidth migration-toolkit webhooks.json); InitiateCallback lacks it (§6.7)' },
    callerDisplayName: { schema: { type: 'string' }, why: 'BW §1.4: sent on initiate in a live capture; InitiateCallback lacks it (§6.7)' },
  },
  transferAnswer: {
    parentCallId: { schema: { $ref: '#/components/schemas/parentCallId' }, why: 'BW §1.5: documented on transferAnswer, missing from TransferAnswerCallback (§6.7)' },
  },
};

/**
 * The media-stream callbacks have no schema in bandwidth.yml (BW §3, §6.7). These are built from the
 * field table of BW §3, reusing the spec's own component schemas for every common field.
 */
function mediaStreamSchemas(): Record<string, OpenApiSchema> {
  const ref = (name: string): OpenApiSchema => ({ $ref: `#/components/schemas/${name}` });
  const stream = (withDuration: boolean): OpenApiSchema => ({
    type: 'object',
    properties: {
      id: { type: 'string' },
      name: { type: 'string' },
      destination: { type: 'string' },
      startTime: { type: 'string', format: 'date-time' },
      tracks: { type: 'array', items: { type: 'string', enum: ['inbound', 'outbound'] } },
      type: { type: 'string', enum: ['WebSocket'] },
      ...(withDuration ? { duration: { type: 'string' } } : {}),
    },
  });
  const common: Record<string, OpenApiSchema> = {
    eventType: ref('eventType'),
    eventTime: ref('eventTime'),
    accountId: ref('accountId'),
    applicationId: ref('applicationId1'),
    from: ref('from'),
    to: ref('to'),
    direction: ref('callDirectionEnum'),
    callId: ref('callId'),
    callUrl: ref('callUrl'),
    enqueuedTime: ref('enqueuedTime'),
    startTime: ref('startTime'),
    answerTime: ref('answerTime'),
    tag: ref('tag1'),
    privacy: { type: 'boolean' },
    callerDisplayName: { type: 'string' },
  };
  return {
    mediaStreamStarted: { type: 'object', properties: { ...common, mediaStream: stream(false) } },
    mediaStreamRejected: {
      type: 'object',
      properties: {
        ...common,
        mediaStream: stream(false),
        cause: { type: 'string', enum: ['connection-error', 'duplicate', 'error', 'track-limit'] },
        errorMessage: ref('errorMessage'),
        originalMediaStream: stream(false),
      },
    },
    mediaStreamStopped: {
      type: 'object',
      properties: { ...common, mediaStream: stream(true), cause: { type: 'string', enum: ['closed', 'connection-error', 'error'] }, errorMessage: ref('errorMessage') },
    },
  };
}

export class BandwidthSpec {
  private readonly components: Record<string, OpenApiSchema>;
  private readonly streamSchemas = mediaStreamSchemas();

  private constructor(doc: { components: { schemas: Record<string, OpenApiSchema> } }) {
    this.components = doc.components.schemas;
  }

  static load(): BandwidthSpec {
    return new BandwidthSpec(parse(fs.readFileSync(SPEC_FILE, 'utf8')) as { components: { schemas: Record<string, OpenApiSchema> } });
  }

  /** Whether the schema comes from bandwidth.yml (`spec`) or from BW §3 because the yml has none (`notes`). */
  source(eventType: string): 'spec' | 'notes' | undefined {
    if (this.components[`${eventType}Callback`]) return 'spec';
    return this.streamSchemas[eventType] ? 'notes' : undefined;
  }

  /** The callback schema for an event type (`initiate` → `initiateCallback`), with its documented gaps. */
  callbackSchema(eventType: string): OpenApiSchema {
    const base = this.components[`${eventType}Callback`] ?? this.streamSchemas[eventType];
    if (!base) throw new Error(`bandwidth.yml has no schema for eventType ${eventType}`);
    const gaps = Object.fromEntries(Object.entries(SPEC_GAPS[eventType] ?? {}).map(([k, v]) => [k, v.schema]));
    return { ...base, properties: { ...base.properties, ...gaps } };
  }

  /** Top-level fields the spec marks `nullable` for this event type (resolving $refs). */
  nullableFields(eventType: string): string[] {
    const schema = this.callbackSchema(eventType);
    return Object.entries(schema.properties ?? {})
      .filter(([, s]) => this.resolve(s).nullable === true)
      .map(([name]) => name);
  }

  /** Every problem with `value` as a callback of its own eventType; [] when it conforms. */
  validateCallback(value: unknown): string[] {
    const eventType = value && typeof value === 'object' ? (value as Record<string, unknown>).eventType : undefined;
    if (typeof eventType !== 'string' || !this.source(eventType)) return [`eventType ${JSON.stringify(eventType)} has no schema`];
    return this.validate(value, this.callbackSchema(eventType), '');
  }

  validate(value: unknown, schemaOrRef: OpenApiSchema, path: string): string[] {
    const schema = this.resolve(schemaOrRef);
    const at = path || '(body)';
    if (value === null) return schema.nullable ? [] : [`${at}: null, but the spec does not mark it nullable`];
    if (schema.enum && !schema.enum.includes(value)) return [`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`];
    switch (schema.type) {
      case 'string': {
        if (typeof value !== 'string') return [`${at}: expected string, got ${typeof value}`];
        if (schema.maxLength !== undefined && value.length > schema.maxLength) return [`${at}: longer than ${schema.maxLength}`];
        if (schema.format === 'date-time' && Number.isNaN(Date.parse(value))) return [`${at}: ${JSON.stringify(value)} is not a date-time`];
        if (schema.format === 'uri' && !URL.canParse(value)) return [`${at}: ${JSON.stringify(value)} is not a URI`];
        return [];
      }
      case 'boolean':
        return typeof value === 'boolean' ? [] : [`${at}: expected boolean, got ${typeof value}`];
      case 'integer':
      case 'number':
        return typeof value === 'number' && (schema.type === 'number' || Number.isInteger(value)) ? [] : [`${at}: expected ${schema.type}, got ${typeof value}`];
      case 'array':
        if (!Array.isArray(value)) return [`${at}: expected array, got ${typeof value}`];
        return value.flatMap((item, i) => this.validate(item, schema.items ?? {}, `${path}[${i}]`));
      case 'object': {
        if (typeof value !== 'object' || Array.isArray(value)) return [`${at}: expected object, got ${Array.isArray(value) ? 'array' : typeof value}`];
        const record = value as Record<string, unknown>;
        const properties = schema.properties ?? {};
        const problems = (schema.required ?? []).filter((k) => record[k] === undefined).map((k) => `${join(path, k)}: required by the spec, missing`);
        for (const [key, v] of Object.entries(record)) {
          if (v === undefined) continue; // JSON has no undefined: the key is not sent
          const property = properties[key];
          if (property) problems.push(...this.validate(v, property, join(path, key)));
          else if (schema.additionalProperties === true) continue;
          else if (typeof schema.additionalProperties === 'object') problems.push(...this.validate(v, schema.additionalProperties, join(path, key)));
          else problems.push(`${join(path, key)}: not a field of this schema`);
        }
        return problems;
      }
      default:
        return [];
    }
  }

  private resolve(schema: OpenApiSchema): OpenApiSchema {
    if (!schema.$ref) return schema;
    const name = schema.$ref.replace('#/components/schemas/', '');
    const target = this.components[name];
    if (!target) throw new Error(`bandwidth.yml has no component ${name}`);
    return this.resolve(target);
  }
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}
