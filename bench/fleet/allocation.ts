export async function benchAllocation(_o: unknown): Promise<unknown> {
  return { skipped: 'not yet' };
}
