import { ApiException } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { kubeError, kubeStatus } from './kube-error.ts';

describe('kubeError', () => {
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
