/**
 * An example request body for every admin API route that takes one, keyed by "METHOD /path" as the
 * routes declare them. The OpenAPI document shows them (and /api/docs pre-fills "try it" with them); a
 * test checks that each one passes its route's own schema, so an example can never drift into a 400.
 */
export const REQUEST_EXAMPLES: Readonly<Record<string, unknown>> = {
  'post /agents': {
    name: 'Front desk',
    instructions: 'You answer calls for Acme Dental. Book, move or cancel appointments; transfer billing questions.',
    greeting: 'Thanks for calling Acme Dental, how can I help?',
  },
  'patch /agents/:id': { greeting: 'Acme Dental, this is the assistant. How can I help?', voice: 'marin' },
  'post /agents/:id/tools': {
    name: 'lookup_appointment',
    description: 'Find the caller’s next appointment by their phone number.',
    parameters: { type: 'object', properties: { phone: { type: 'string' } }, required: ['phone'] },
    url: 'https://crm.example.com/appointments/lookup',
    method: 'POST',
  },
  'post /import': {
    destinations: [{ id: 'billing', name: 'billing', kind: 'phone', value: '+19195550177', warm: true }],
    agents: [{ id: 'front-desk', name: 'Front desk', instructions: 'You answer calls for Acme Dental.', destinationIds: ['billing'] }],
    numbers: [{ number: '+19195550100', agentId: 'front-desk' }],
    dryRun: true,
  },
  'post /numbers': { number: '+19195550100', agentId: 'front-desk' },
  'post /destinations': { name: 'billing', description: 'Billing questions and refunds', kind: 'phone', value: '+19195550177', warm: true },
  'patch /destinations/:id': { warm: false, callTimeoutS: 20 },
  'post /calls': { agentId: 'front-desk', to: '+19195550142' },
  'post /test-calls': { agentId: 'front-desk' },
};
