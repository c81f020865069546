import { readFileSync } from 'node:fs';
import { breakdown, describeBreakdown } from './bench/e2e-breakdown.ts';
const d = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as { pods: Array<{ name: string; readyMs: number; timeline: never; giveBack?: never }> };
const r = breakdown(d.pods.map((p) => ({ name: p.name, claim: p.name.startsWith('nic-'), readyMs: p.readyMs, timeline: p.timeline, ...(p.giveBack ? { giveBack: p.giveBack } : {}) })), {});
console.log(describeBreakdown(r).join('\n'));
