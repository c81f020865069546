/**
 * `node bench/fleet/h2-deadlines.ts`: what kube-apiserver's HTTP/2 server
 * (Go's) does with a client that is slow to start a NEW connection — the
 * cause of the fleet flap's `UND_ERR_SOCKET other side closed`
 * (docs/fleet.md, "Writes that failed at the client"). Against the
 * conformance tier's real kube-apiserver, four raw TLS connections (ALPN h2,
 * as undici 8 negotiates by default) each complete the handshake, then:
 * send the client preface and SETTINGS at once; send the preface 5 s or
 * 12 s late; send the preface at once and the SETTINGS 4 s later. Printed:
 * whether and when the server closed the connection, and how many bytes it
 * had sent (its own SETTINGS and WINDOW_UPDATE, and any ACK).
 *
 * Measured (v1.37.2): the server closes a connection whose preface is later
 * than 10 s (after 45 bytes) or whose first SETTINGS is later than 2 s after
 * the preface (after 58 bytes); 5 s late is tolerated.
 */
import { connect } from 'node:tls';
import { startControlPlane } from '../../test/conformance/control-plane.ts';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
const EMPTY_SETTINGS = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]); // length 0, type SETTINGS, no flags, stream 0

const cp = await startControlPlane();
const port = Number(new URL(cp.server).port);

function probe(name: string, prefaceDelayMs: number, settingsDelayMs: number): Promise<string> {
  return new Promise((resolve) => {
    let read = 0;
    let done = false;
    const s = connect({ host: '127.0.0.1', port, ca: cp.caPem, ALPNProtocols: ['h2'] }, () => {
      const up = performance.now();
      const finish = (what: string): void => {
        if (done) return;
        done = true;
        s.destroy();
        resolve(`${name}: ${what} ${Math.round(performance.now() - up)} ms after TLS was up, the server having sent ${read} bytes`);
      };
      setTimeout(() => { s.write(PREFACE); setTimeout(() => s.write(EMPTY_SETTINGS), settingsDelayMs); }, prefaceDelayMs);
      s.on('data', (b: Buffer) => { read += b.length; });
      s.on('end', () => finish('closed by the server'));
      setTimeout(() => finish('still open'), prefaceDelayMs + settingsDelayMs + 4000);
    });
  });
}

try {
  for (const line of await Promise.all([probe('preface and SETTINGS at once', 0, 0), probe('preface 5 s late', 5000, 0), probe('preface 12 s late', 12_000, 0), probe('SETTINGS 4 s after the preface', 0, 4000)])) console.log(line);
} finally {
  await cp.stop();
}
