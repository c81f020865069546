/**
 * Problems found in a claim configuration. Each is a `ConfigError`
 * (`CONFIG_INVALID`) whose message is `PATH: what is wrong` and whose context
 * holds the path; a device's problems travel together as one
 * `CONFIG_CLAIM_INVALID` error whose cause is an AggregateError of them all.
 */
import { ConfigError } from '../../common/errors.ts';
import { formatPath, type PathSegment } from './nodes.ts';

/** One problem, with the field path it is about (empty for the whole document). */
export interface ConfigIssue {
  readonly path: string;
  readonly message: string;
}

export function issueError(issue: ConfigIssue): ConfigError {
  const text = issue.path === '' ? issue.message : `${issue.path}: ${issue.message}`;
  return new ConfigError(text, { context: { path: issue.path } });
}

/** Collects issues under a base path (`spec.devices.config[0].opaque.parameters`). */
export class IssueList {
  readonly #base: readonly PathSegment[];
  readonly issues: ConfigIssue[] = [];

  constructor(base: readonly PathSegment[] = []) {
    this.#base = base;
  }

  add(path: readonly PathSegment[], message: string): void {
    this.issues.push({ path: formatPath([...this.#base, ...path]), message });
  }

  get size(): number {
    return this.issues.length;
  }
}

/** One error for all the problems of a device's configuration (`what` says whose, e.g. `request nic`). */
export function claimConfigError(what: string, issues: readonly ConfigIssue[]): ConfigError {
  const errors = issues.map(issueError);
  const listed = errors.slice(0, 5).map((e) => e.message).join('; ');
  const more = errors.length > 5 ? `; and ${errors.length - 5} more` : '';
  return new ConfigError(`invalid configuration for ${what}: ${listed}${more}`, {
    cause: new AggregateError(errors, `${errors.length} problem(s)`),
    context: { issues },
  }, 'CONFIG_CLAIM_INVALID');
}
