/**
 * The layer rules of docs/architecture.md#map, checked by `npm run depcheck` (part of `npm test`).
 * Type-only imports count: a port is a type, and depending on a wire's types is depending on the wire.
 */
module.exports = {
  forbidden: [
    {
      name: 'bridge-knows-no-wire',
      comment: 'bridge/ sits between the two ports (transports.ts) and knows neither Bandwidth nor OpenAI: adapters depend on it, never the other way.',
      severity: 'error',
      from: { path: '^src/bridge/' },
      to: { path: '^src/(bandwidth|openai)/' },
    },
    {
      name: 'stand-ins-stay-out',
      comment: 'src/sim/ holds the stand-ins: only the CLI (simulate), tests and benchmarks use them; the service never does.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(sim|cli)/' },
      to: { path: '^src/sim/' },
    },
    {
      name: 'metrics-library-stays-in-metrics',
      comment: 'Only src/metrics/ knows prom-client: the bridge and the adapters report through the MetricsSink port (src/metrics/sink.ts), so a metrics backend is one folder.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/metrics/' },
      to: { path: 'node_modules/prom-client/' },
    },
    {
      name: 'no-circular',
      comment: 'No cycles between modules (a type-only import back is allowed: it has no runtime effect).',
      severity: 'error',
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
