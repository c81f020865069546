import { describe, expect, it } from 'vitest';
import { isDriverError } from '../common/errors.ts';
import { errnoName, KernelError } from './errors.ts';

describe('KernelError', () => {
  it('names errnos canonically', () => {
    expect(errnoName(11)).toBe('EAGAIN');
    expect(errnoName(19)).toBe('ENODEV');
    expect(errnoName(95)).toBe('EOPNOTSUPP');
    expect(errnoName(35)).toBe('EDEADLK');
    expect(errnoName(9999)).toBe('E9999');
  });

  it('carries errno, op, extack and where, and reads well', () => {
    const e = new KernelError('KERNEL_NETLINK_ERROR', { op: 'RTM_NEWADDR', errno: 17, extack: 'Address already assigned', ifindex: 4, netns: '/run/netns/x' });
    expect(e.message).toBe('RTM_NEWADDR failed: EEXIST: Address already assigned (ifindex 4, netns /run/netns/x)');
    expect(e).toMatchObject({ code: 'KERNEL_NETLINK_ERROR', errno: 17, errnoName: 'EEXIST', ifindex: 4, name: 'KernelError' });
    expect(isDriverError(e)).toBe(true);
    expect(isDriverError(new Error('x'))).toBe(false);
    expect(isDriverError({ code: 'NOT_FOUND' })).toBe(false);
  });
});
