import { z } from 'zod';
import { ToolRegistry } from '../../src/bridge/tools';
import { functionTools } from '../../src/openai/session-config';

describe('ToolRegistry', () => {
  it('describes tools wire-neutrally, JSON Schema from zod; the OpenAI adapter makes them function tools', () => {
    const tools = new ToolRegistry().register({ name: 'lookup_order', description: 'Find an order', parameters: z.object({ orderId: z.string() }), run: async ({ orderId }) => ({ orderId }) });
    const defs = tools.definitions();
    const described = {
      name: 'lookup_order',
      description: 'Find an order',
      parameters: expect.objectContaining({ type: 'object', properties: { orderId: { type: 'string' } }, required: ['orderId'] }),
    };
    expect(defs).toEqual([described]);
    expect(functionTools(defs)).toEqual([{ type: 'function', ...described }]);
  });
});
