/**
 * The driver's name: the ResourceSlice `driver`, the domain of its device
 * attributes, and the driver whose opaque claim configs it reads. One
 * constant so every layer agrees.
 */
export const DRIVER_NAME = 'netclaim.dev';
