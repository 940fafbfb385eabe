// A machine's deployment file: where it is, reading and refusing it, and applying it to an engine
// at every start (idempotent: a second run changes nothing). The schema is deployment-schema.ts.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DeploymentInfo, ManagedSetting } from '../../preload/contract.js';
import { CofferError, toApiError } from './errors.js';
import { DeploymentFile } from './deployment-schema.js';
import type { Engine } from './engine.js';
import { readKeyFile } from './key-file.js';

export { DeploymentFile } from './deployment-schema.js';

export interface LoadedDeployment {
  file: string;
  config: DeploymentFile;
}

/** Where a machine's deployment file is by default (the admin's, for every user of the machine). */
export function machineDeploymentFile(platform: NodeJS.Platform = process.platform, env: NodeJS.ProcessEnv = process.env): string {
  if (platform === 'win32') return path.join(env.ProgramData ?? 'C:\\ProgramData', 'Coffer', 'deployment.json');
  if (platform === 'darwin') return '/Library/Application Support/Coffer/deployment.json';
  return '/etc/coffer/deployment.json';
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  platform?: NodeJS.Platform;
  /** Further places to look after the machine's file (the desktop app: its installation folder). */
  alsoIn?: string[];
}

/**
 * The deployment file in force: COFFER_DEPLOYMENT_FILE when set (it must exist), else the machine's
 * file, else one beside the installed app; null when there is none. A file that cannot be read or
 * breaks the schema is refused whole with `DeploymentFileInvalid` naming the field's path.
 */
export function loadDeployment(opts: LoadOptions = {}): LoadedDeployment | null {
  const env = opts.env ?? process.env;
  const named = env.COFFER_DEPLOYMENT_FILE;
  let file: string | undefined;
  if (named) file = path.resolve(named);
  else file = [machineDeploymentFile(opts.platform, env), ...(opts.alsoIn ?? []).map((d) => path.join(d, 'deployment.json'))].find((f) => fs.existsSync(f));
  if (!file) return null;
  return { file, config: parseDeployment(file, readText(file)) };
}

function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw invalid(file, [], `cannot be read: ${(e as Error).message}`);
  }
}

/** The deployment file's content, checked; `file` names it in the errors. */
export function parseDeployment(file: string, text: string): DeploymentFile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw invalid(file, [], `is not JSON: ${(e as Error).message}`);
  }
  const secret = inlineSecret(raw, []);
  if (secret) throw invalid(file, secret, 'an inline secret is refused: name a key file or environment variable (passphrase) or a credentialsFile (storage)');
  const parsed = DeploymentFile.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ path: fieldPath(i.path), message: i.message }));
    const first = parsed.error.issues[0]!;
    throw invalid(file, first.path, first.message, issues);
  }
  return parsed.data;
}

/** A key that holds a secret in words (a password, an account key, a SAS token) with a string value. */
const SECRET_KEY = /^(password|secret|secretaccesskey|accesskey|accesskeyid|accountkey|sas|sastoken|token|connectionstring)$/i;

function inlineSecret(value: unknown, at: PropertyKey[]): PropertyKey[] | null {
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) {
      const hit = inlineSecret(v, [...at, i]);
      if (hit) return hit;
    }
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (typeof v === 'string' && SECRET_KEY.test(k.replace(/[_-]/g, ''))) return [...at, k];
      const hit = inlineSecret(v, [...at, k]);
      if (hit) return hit;
    }
  }
  return null;
}

function fieldPath(p: readonly PropertyKey[]): string {
  return p.map((k, i) => (typeof k === 'number' ? `[${k}]` : `${i === 0 ? '' : '.'}${String(k)}`)).join('') || '(the file)';
}

function invalid(file: string, at: readonly PropertyKey[], message: string, issues?: { path: string; message: string }[]): CofferError {
  const field = fieldPath(at);
  return new CofferError('DeploymentFileInvalid', `The deployment file ${file} is refused: ${field}: ${message}`, {
    file,
    field,
    issues: issues ?? [{ path: field, message }],
  });
}

/** The settings a deployment fixes: those it sets, minus those it lets users change. */
export function managedSettings(config: DeploymentFile): ManagedSetting[] {
  const set: ManagedSetting[] = [];
  if (config.language) set.push('language');
  if (config.theme) set.push('theme');
  if (config.notifications) set.push('notifications');
  if (config.updates) set.push('updates');
  if (config.power) set.push('power');
  return set.filter((s) => !config.userMayChange.includes(s));
}

export function deploymentInfo(d: LoadedDeployment | null): DeploymentInfo {
  const c = d?.config;
  return {
    file: d?.file ?? null,
    managed: c ? managedSettings(c) : [],
    language: c?.language ?? null,
    theme: c?.theme ?? null,
    notifications: c?.notifications ?? null,
    updateFeed: c?.updates?.url ?? null,
    vaults: c?.vaults.map((v) => v.name) ?? [],
    policies: c?.policies.map((p) => ({ vault: p.vault, name: p.name })) ?? [],
  };
}

export interface ApplyReport {
  /** One line per change made (empty on a second run). */
  changes: string[];
  /** What could not be applied now (a vault offline, a missing key file); the next start tries again. */
  problems: { subject: string; code: string; message: string }[];
}

/**
 * Makes the engine's catalog say what the deployment says: sources and their regions, team vaults
 * connected (unlocking at start with their key file), policies in them. What is already so is
 * left alone; a step that fails is reported and the others still run.
 */
export async function applyDeployment(engine: Engine, config: DeploymentFile, env: NodeJS.ProcessEnv = process.env): Promise<ApplyReport> {
  const report: ApplyReport = { changes: [], problems: [] };
  const attempt = async (subject: string, step: () => Promise<void> | void): Promise<void> => {
    try {
      await step();
    } catch (e) {
      const err = toApiError(e);
      report.problems.push({ subject, code: err.code, message: err.message });
    }
  };

  for (const s of config.sources) {
    await attempt(`source ${s.name}`, async () => {
      const existing = engine.inventory.listSources().find((x) => x.name.toLowerCase() === s.name.toLowerCase());
      if (!existing) {
        await engine.inventory.addSource({ kind: s.kind, target: s.target, region: s.region, name: s.name });
        report.changes.push(`source ${s.name} added (region ${s.region})`);
      } else if (existing.region !== s.region) {
        await engine.inventory.editSource({ name: existing.name, region: s.region });
        report.changes.push(`source ${s.name}: region ${s.region}`);
      }
    });
  }

  for (const v of config.vaults) {
    await attempt(`vault ${v.name}`, async () => {
      const keyFile = 'keyFile' in v.passphrase ? v.passphrase.keyFile : null;
      const existing = engine.vaults.list().find((x) => x.name.toLowerCase() === v.name.toLowerCase());
      if (!existing) {
        const passphrase = passphraseOf(v.name, v.passphrase, env);
        const { passphrase: _ref, ...storage } = v;
        void _ref;
        await engine.vaults.connect({ ...storage, passphrase, remember: false });
        report.changes.push(`vault ${v.name} connected`);
      }
      const now = engine.vaults.list().find((x) => x.name.toLowerCase() === v.name.toLowerCase());
      if (keyFile && now && !(now.unlocksAtStart.via === 'keyFile' && now.unlocksAtStart.keyFile === keyFile)) {
        await engine.vaults.setKeyFile(now.name, keyFile);
        report.changes.push(`vault ${v.name} unlocks at start with ${keyFile}`);
      }
    });
  }

  for (const p of config.policies) {
    await attempt(`policy ${p.vault}/${p.name}`, async () => {
      const existing = engine.protection.listPolicies(p.vault).find((x) => x.name.toLowerCase() === p.name.toLowerCase());
      if (!existing) {
        await engine.protection.createPolicy(p.vault, p.name, p.spec);
        report.changes.push(`policy ${p.name} created in ${p.vault}`);
      } else if (canonical({ schedule: existing.schedule, retention: existing.retention }) !== canonical(p.spec)) {
        await engine.protection.editPolicy(p.vault, existing.name, p.spec);
        report.changes.push(`policy ${p.name} in ${p.vault} set back to the deployment's`);
      }
    });
  }
  return report;
}

function passphraseOf(vault: string, ref: { keyFile: string } | { env: string }, env: NodeJS.ProcessEnv): string {
  if ('keyFile' in ref) {
    if (!fs.existsSync(ref.keyFile)) {
      throw new CofferError('DeploymentSecretMissing', `The key file ${ref.keyFile} of vault ${vault} does not exist.`, { field: 'keyFile', keyFile: ref.keyFile });
    }
    return readKeyFile(ref.keyFile);
  }
  const value = env[ref.env];
  if (!value) throw new CofferError('DeploymentSecretMissing', `The environment variable ${ref.env} (passphrase of vault ${vault}) is not set.`, { env: ref.env });
  return value;
}

/** JSON with sorted keys, so two equal specs compare equal whatever their key order. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, val: unknown) =>
    val !== null && typeof val === 'object' && !Array.isArray(val)
      ? Object.fromEntries(Object.entries(val as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
      : val,
  );
}
