/**
 * A real DHCP server for kernel tests: Debian's dnsmasq (package
 * `dnsmasq-base`, /usr/sbin/dnsmasq) run in a test namespace on one
 * interface, with its lease database and log in a temporary directory. It
 * is killed by its PID (never by name) after the test, even on failure, and
 * at process exit. Options are dnsmasq(8)'s; `--no-ping` skips its 3 s
 * ping check of an address before offering it (nothing else is on the link).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { eventually, hasTool, type TestNetns } from './netns-fixture.ts';

export const DNSMASQ = '/usr/sbin/dnsmasq';
export const hasDnsmasq = (): boolean => existsSync(DNSMASQ) && hasTool(DNSMASQ, ['--version']);
export const NO_DNSMASQ = `needs ${DNSMASQ} (Debian package dnsmasq-base; .ci/run installs it)`;

export interface LeaseLine {
  /** Seconds since the epoch (dnsmasq's lease file format: expiry mac ip hostname client-id). */
  readonly expiry: number;
  readonly mac: string;
  readonly ip: string;
}

export interface Dnsmasq {
  readonly pid: number;
  readonly dir: string;
  readonly leaseFile: string;
  readonly logFile: string;
  leases(): LeaseLine[];
  log(): string;
  stop(): void;
}

const running = new Set<Dnsmasq>();

export interface DnsmasqOptions {
  readonly ns: TestNetns;
  readonly ifName: string;
  /** `first,last,mask,lease-time` (dnsmasq's minimum lease time is 2m). */
  readonly range: string;
  /** Extra `--dhcp-option=` values (`option:router,10.0.0.1`, `option:T1,5`...). */
  readonly options?: readonly string[];
}

/** Starts dnsmasq in `ns` serving DHCP on `ifName` (which must have an address in the range's subnet), and waits until it listens. */
export async function startDnsmasq(o: DnsmasqOptions): Promise<Dnsmasq> {
  const dir = mkdtempSync(join(tmpdir(), 'nc-dnsmasq-'));
  const leaseFile = join(dir, 'leases');
  const logFile = join(dir, 'log');
  const args = [
    'netns', 'exec', o.ns.name, DNSMASQ, '--keep-in-foreground', '--conf-file=/dev/null', '--port=0', '--no-resolv', '--no-hosts',
    `--interface=${o.ifName}`, '--bind-interfaces', '--except-interface=lo', `--dhcp-range=${o.range}`, `--dhcp-leasefile=${leaseFile}`,
    '--dhcp-authoritative', '--no-ping', '--log-dhcp', `--log-facility=${logFile}`, '--user=root', '--group=root', `--pid-file=${join(dir, 'pid')}`,
    ...(o.options ?? []).map((x) => `--dhcp-option=${x}`),
  ];
  // `ip netns exec` execs dnsmasq in place: the child's PID is dnsmasq's.
  const child: ChildProcess = spawn('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const pid = child.pid!;
  const d: Dnsmasq = {
    pid, dir, leaseFile, logFile,
    leases: () => (existsSync(leaseFile) ? readFileSync(leaseFile, 'utf8') : '').split('\n').filter((l) => l.trim() !== '').map((l) => {
      const [expiry, mac, ip] = l.split(' ');
      return { expiry: Number(expiry), mac: mac!, ip: ip! };
    }),
    log: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
    stop: () => {
      if (!running.delete(d)) return;
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        /* already exited */
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  running.add(d);
  try {
    await eventually(() => {
      if (child.exitCode !== null) throw new Error(`dnsmasq exited ${child.exitCode}: ${stderr}`);
      if (!/started, version/.test(d.log()) || !/DHCP, IP range/.test(d.log())) throw new Error(`dnsmasq not ready: ${d.log()}`);
    }, 10_000);
  } catch (err) {
    d.stop();
    throw err;
  }
  return d;
}

function stopAll(): void {
  for (const d of [...running]) d.stop();
}

afterEach(stopAll);
process.on('exit', stopAll);
