/**
 * Turns the accumulated raw values into the final, frozen Config. Each setting resolves itself
 * (default, auto-detection, mkosi's load_args adjustments) and may ask for others; those are resolved
 * on demand, so the table needs no hand-kept ordering.
 */
import type { Origin } from '../errors.js';
import type { RawState } from './assign.js';
import type { Host } from './host.js';
import type { ResolveContext, Setting } from './setting.js';
import { SETTING_NAMES, SETTINGS } from './settings/index.js';
import type { Config, SettingName } from './types.js';

export interface ResolveInput {
  readonly state: RawState;
  /** The configuration directory (-C). */
  readonly directory: string;
  readonly host: Host;
  readonly env: Readonly<Record<string, string | undefined>>;
}

export interface Resolved {
  readonly config: Config;
  readonly context: ResolveContext;
  readonly warnings: readonly string[];
}

const table = SETTINGS as unknown as Record<SettingName, Setting<unknown>>;

export function createResolveContext(input: ResolveInput, warnings: string[] = []): ResolveContext {
  const values = new Map<SettingName, unknown>();
  const resolving = new Set<SettingName>();
  const context: ResolveContext = {
    get<K extends SettingName>(key: K): Config[K] {
      if (values.has(key)) return values.get(key) as Config[K];
      if (resolving.has(key)) throw new Error(`internal: settings ${[...resolving].join(' → ')} → ${key} depend on each other`);
      resolving.add(key);
      try {
        const value = table[key].resolve(input.state.get(key)?.value, context);
        values.set(key, deepFreeze(value));
        return value as Config[K];
      } finally {
        resolving.delete(key);
      }
    },
    isSet: (key) => input.state.has(key),
    originOf: (key): Origin | undefined => input.state.get(key)?.origin,
    directory: input.directory,
    host: input.host,
    env: input.env,
    warn: (message) => {
      if (!warnings.includes(message)) warnings.push(message);
    },
  };
  return context;
}

export function resolveConfig(input: ResolveInput): Resolved {
  const warnings: string[] = [];
  const context = createResolveContext(input, warnings);
  const config = Object.fromEntries(SETTING_NAMES.map((name) => [name, context.get(name)])) as unknown as Config;
  return { config: Object.freeze(config), context, warnings };
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
