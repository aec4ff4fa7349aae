import WebSocket from 'ws';
import { ManualClock, waitFor } from '../../src/clock';
import { startRealtimeStandIn, type RealtimeStandIn } from '../../src/sim/realtime-server';

type Json = Record<string, any>;

/** The stand-in's MCP events and items, in the order and shapes of the openai package's types. */
describe('Realtime stand-in: MCP servers', () => {
  let clock: ManualClock;
  let rt: RealtimeStandIn;
  let ws: WebSocket;
  const events: Json[] = [];
  const calls: unknown[] = [];
  const mcpTool = { type: 'mcp', server_label: 'crm', server_url: 'https://mcp.crm.example/mcp', allowed_tools: ['lookup_order'], require_approval: 'never', headers: { Authorization: 'Bearer k' } };

  beforeEach(async () => {
    clock = new ManualClock(0);
    events.length = 0;
    calls.length = 0;
    rt = await startRealtimeStandIn({
      clock,
      firstDeltaLatencyMs: 10,
      mcpServers: {
        'https://mcp.crm.example/mcp': {
          tools: [{ name: 'lookup_order', description: 'Find an order' }, { name: 'cancel_order' }],
          call: (name, args, headers) => {
            calls.push({ name, args, headers });
            return { output: '{"status":"shipped"}' };
          },
        },
      },
      script: (ctx) => (ctx.conversation.some((e) => e.type === 'mcp_call') ? { text: 'Bye.' } : { mcpCall: { serverLabel: 'crm', name: 'lookup_order', arguments: { orderId: '7' } }, then: 'It has shipped.' }),
    });
    ws = new WebSocket(`${rt.url}/realtime?model=gpt-realtime`, { headers: { Authorization: `Bearer ${rt.apiKey}` } });
    ws.on('message', (data) => events.push(JSON.parse(data.toString()) as Json));
    await new Promise<void>((r) => ws.once('open', () => r()));
  });
  afterEach(async () => {
    ws.close();
    await rt.close();
  });

  const send = (e: Json) => ws.send(JSON.stringify(e));
  const types = () => events.map((e) => e.type as string);

  it('lists a configured server’s allowed tools after session.updated; an unreachable server’s listing fails', async () => {
    send({ type: 'session.update', session: { type: 'realtime', tools: [mcpTool, { ...mcpTool, server_label: 'erp', server_url: 'https://erp.example/mcp' }] } });
    await waitFor(() => types().includes('mcp_list_tools.failed'), 2000, 'the listings');
    const after = types().slice(types().indexOf('session.updated'));
    expect(after).toEqual([
      'session.updated',
      'conversation.item.added',
      'mcp_list_tools.in_progress',
      'mcp_list_tools.completed',
      'conversation.item.done',
      'conversation.item.added',
      'mcp_list_tools.in_progress',
      'mcp_list_tools.failed',
    ]);
    const listed = events.find((e) => e.type === 'conversation.item.done')!.item;
    expect(listed).toEqual({ id: expect.any(String), type: 'mcp_list_tools', server_label: 'crm', tools: [{ name: 'lookup_order', description: 'Find an order', input_schema: { type: 'object', properties: {} } }] });
    // A second update with the same servers lists nothing again.
    const count = events.length;
    send({ type: 'session.update', session: { type: 'realtime', tools: [mcpTool] } });
    await waitFor(() => events.length > count, 2000, 'session.updated');
    expect(types().slice(count)).toEqual(['session.updated']);
  });

  it('a planned call: its events in order, its output in the item, then the spoken result', async () => {
    send({ type: 'session.update', session: { type: 'realtime', output_modalities: ['text'], tools: [mcpTool] } });
    await waitFor(() => types().includes('mcp_list_tools.completed'), 2000, 'the listing');
    const from = events.length;
    send({ type: 'response.create' });
    await waitFor(() => types().includes('response.created'), 2000, 'response.created');
    await clock.advanceAsync(2000);
    await waitFor(() => types().includes('response.done'), 2000, 'response.done');
    const sequence = types().slice(from).filter((t) => !t.startsWith('response.output_text') && !t.startsWith('response.content_part') && t !== 'rate_limits.updated');
    expect(sequence).toEqual([
      'response.created',
      'response.output_item.added',
      'conversation.item.added',
      'response.mcp_call_arguments.delta',
      'response.mcp_call_arguments.done',
      'response.mcp_call.in_progress',
      'response.mcp_call.completed',
      'response.output_item.done',
      'conversation.item.done',
      'response.output_item.added',
      'conversation.item.added',
      'response.output_item.done',
      'conversation.item.done',
      'response.done',
    ]);
    const call = events.find((e) => e.type === 'response.output_item.done')!.item;
    expect(call).toEqual({ id: expect.any(String), type: 'mcp_call', server_label: 'crm', name: 'lookup_order', arguments: '{"orderId":"7"}', approval_request_id: null, output: '{"status":"shipped"}', error: null });
    expect(calls).toEqual([{ name: 'lookup_order', args: { orderId: '7' }, headers: { Authorization: 'Bearer k' } }]);
    expect(events.filter((e) => e.type === 'response.output_text.done').map((e) => e.text)).toEqual(['It has shipped.']);
  });

  it('a call that needs approval ends its response with the request; an answer naming no request is refused', async () => {
    send({ type: 'session.update', session: { type: 'realtime', output_modalities: ['text'], tools: [{ ...mcpTool, require_approval: 'always' }] } });
    await waitFor(() => types().includes('mcp_list_tools.completed'), 2000, 'the listing');
    send({ type: 'response.create' });
    await waitFor(() => types().includes('response.created'), 2000, 'response.created');
    await clock.advanceAsync(100);
    await waitFor(() => types().includes('response.done'), 2000, 'response.done');
    const request = events.find((e) => e.type === 'response.output_item.done')!.item;
    expect(request).toEqual({ id: expect.any(String), type: 'mcp_approval_request', server_label: 'crm', name: 'lookup_order', arguments: '{"orderId":"7"}' });
    expect(calls).toEqual([]);
    send({ type: 'conversation.item.create', item: { type: 'mcp_approval_response', approval_request_id: 'nope', approve: true } });
    await waitFor(() => types().includes('error'), 2000, 'the error');
    expect(events.find((e) => e.type === 'error')!.error).toMatchObject({ type: 'invalid_request_error', param: 'item.approval_request_id' });
    // Approved: the next response runs the call with the approval's id.
    send({ type: 'conversation.item.create', item: { type: 'mcp_approval_response', id: 'apr_1', approval_request_id: request.id, approve: true } });
    send({ type: 'response.create' });
    await clock.advanceAsync(2000);
    await waitFor(() => types().includes('response.mcp_call.completed'), 2000, 'the approved call');
    expect(events.find((e) => e.type === 'response.output_item.done' && e.item.type === 'mcp_call')!.item.approval_request_id).toBe(request.id);
    expect(calls).toHaveLength(1);
  });
});
