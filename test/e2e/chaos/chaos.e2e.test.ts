/**
 * Chaos on the node (issue 15): pod lifecycles with NIC claims from a template while
 * netclaim's container is SIGKILLed and containerd (the NRI connection) restarted at
 * random moments. No container may start without its NIC, every device must come back
 * as it was, and no claim record may be left. In `npm test` a short run (20 lifecycles);
 * `npm run test:chaos` runs 200 (NETCLAIM_CHAOS_LIFECYCLES, NETCLAIM_CHAOS_SEED to repeat
 * a run). The DaemonSet's pod only (its kills go through the kubelet).
 */
import { afterAll, describe, expect, inject, it } from 'vitest';
import { startNetclaim } from '../node/netclaim-daemon.ts';
import { formatReport, runChaos } from './chaos-runner.ts';

const node = inject('e2eNode');
const lifecycles = Number(process.env['NETCLAIM_CHAOS_LIFECYCLES'] ?? 20);
const seed = Number(process.env['NETCLAIM_CHAOS_SEED'] ?? Math.floor(Math.random() * 2 ** 31));

describe.skipIf(node.daemonMode !== 'pod')('chaos: pods with NIC claims while netclaim and the NRI connection are killed', () => {
  afterAll(async () => {
    await startNetclaim(node); // the chart's defaults again
  });

  it(`${lifecycles} pod lifecycles: no container without its NIC, every device restored, no record left`, async () => {
    console.log(`chaos: seed ${seed} (NETCLAIM_CHAOS_SEED=${seed} repeats the fault schedule)`);
    const r = await runChaos(node, { lifecycles, seed, log: (l) => console.log(l) });
    console.log(formatReport(r));
    expect(r.lifecycles).toBe(lifecycles);
    expect(r.kills).toBeGreaterThan(0);
    expect(r.startsWithoutNic).toEqual([]);
    expect(r.notRestored).toEqual([]);
    expect(r.recordsLeft).toEqual([]);
    expect(r.stuck).toEqual([]);
  }, Math.max(600_000, lifecycles * 30_000));
});
