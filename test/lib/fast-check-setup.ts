/**
 * Loaded before every test file (vitest setupFiles). A failed property names
 * its counterexample, but fast-check keeps the assertion that failed in the
 * error's `cause`, which vitest's reports (and so the CI log) leave out: the
 * report says which input failed, not which check. Put the error's text in
 * the report.
 */
import fc from 'fast-check';

fc.configureGlobal({ ...fc.readConfigureGlobal(), includeErrorInReport: true });
