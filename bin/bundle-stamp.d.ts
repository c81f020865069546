/** Types of bundle-stamp.js (plain JavaScript: bin/netclaim.js loads it before any TypeScript). */
export declare const STAMP_FILE: string;
export declare function writeBundleStamp(root: string, outDir: string, inputs: readonly string[], cwd?: string): void;
export declare function isBundleFresh(root: string, outDir: string): boolean;
