import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';

describe('ffi-rs backend outside the main thread', () => {
  it('refuses to load in a worker (it would segfault the process at exit) and the process stays healthy', async () => {
    const source = `
      const { parentPort } = require('node:worker_threads');
      import(${JSON.stringify(new URL('./index.ts', import.meta.url).href)})
        .then((m) => { try { m.loadLibc('ffi-rs'); parentPort.postMessage('loaded'); } catch (e) { parentPort.postMessage(e.code + ': ' + e.message); } })
        .catch((e) => parentPort.postMessage('import failed: ' + e.message));`;
    const w = new Worker(source, { eval: true });
    const msg = await new Promise<string>((resolve, reject) => { w.once('message', resolve); w.once('error', reject); });
    await w.terminate();
    expect(msg).toMatch(/^KERNEL_FFI_UNAVAILABLE: the ffi-rs backend must be loaded on the main thread/);
  });
});
