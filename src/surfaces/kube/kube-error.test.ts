import { ApiException } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { KubeResponseError, timeoutError } from './kube-api.ts';
import { kubeError, kubeStatus } from './kube-error.ts';

describe('kubeError', () => {
  it('takes the HTTP status and the Status reason and message from the API client\'s KubeResponseError', () => {
    const gone = kubeError('watch x', new KubeResponseError('WATCH', '/x', 410, { kind: 'Status', reason: 'Expired', message: 'too old resource version: 1 (42)', code: 410 }));
    expect([kubeStatus(gone), gone.context['reason'], gone.message]).toEqual([410, 'Expired', 'watch x: 410 Expired too old resource version: 1 (42)']);
    // A body that is not a Status (a proxy's HTML page): the status stays, the message is the client's.
    const proxy = kubeError('get y', new KubeResponseError('GET', '/y', 502, '<html>bad gateway</html>'));
    expect([kubeStatus(proxy), proxy.context['reason'], proxy.message]).toEqual([502, '', 'get y: 502 GET /y: HTTP 502']);
  });

  it('a deadline is no HTTP status: 0, "timed out after N ms", a TimeoutError below', () => {
    const e = kubeError('get claim', timeoutError(5000));
    expect([kubeStatus(e), e.message]).toEqual([0, 'get claim: timed out after 5000 ms']);
    expect((e.cause as Error & { cause: Error }).cause.name).toBe('TimeoutError');
  });

  it('takes the HTTP status and the Status reason and message from an ApiException', () => {
    const e = kubeError('update x', new ApiException(409, 'Unknown API Status Code!', JSON.stringify({ reason: 'Conflict', message: 'the object has been modified' }), {}));
    expect(kubeStatus(e)).toBe(409);
    expect(e.message).toBe('update x: 409 Conflict the object has been modified');
  });

  it('a timed-out watch (DOMException TimeoutError, code 23) is no HTTP status: 0, no response', () => {
    // What client-node's Watch reports when the server does not answer within its 30 s (seen in the fleet flap).
    const e = kubeError('watch resourceslices', new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
    expect(kubeStatus(e)).toBe(0);
    expect(e.message).toBe('watch resourceslices: The operation was aborted due to timeout');
  });
});
