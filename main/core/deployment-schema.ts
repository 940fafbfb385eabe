// The schema of a machine's deployment file (/etc/coffer/deployment.json), the one home of its
// rules. Zod only (no Node), so `scripts/deployment-schema.mjs` can publish it as JSON Schema in
// docs/deployment.schema.json; test/unit/deployment.test.ts checks the committed file is current.
import { z } from 'zod';
import {
  AbsolutePath,
  exactlyOneStorage,
  LanguageChoice,
  ManagedSetting,
  NotificationLevel,
  PolicyName,
  RegionLabel,
  SourceKind,
  SourceName,
  ThemeSetting,
  VaultName,
} from '../../preload/contract.js';
import { PolicySpec } from '../../preload/policy.js';

const EnvName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'an environment variable name (letters, digits, underscores)');

const INLINE_PASSPHRASE =
  'an inline passphrase is refused: name a key file ({"keyFile": "/etc/coffer/keys/VAULT.key"}, owned by the Coffer user, mode 600) or an environment variable ({"env": "NAME"})';

/** A passphrase by reference: a key file (the rules of main/core/key-file.ts) or an environment variable's name. */
export const SecretRef = z.union([z.object({ keyFile: AbsolutePath }).strict(), z.object({ env: EnvName }).strict()], {
  error: (issue) => (typeof issue.input === 'string' ? INLINE_PASSPHRASE : 'give {"keyFile": PATH} or {"env": NAME}'),
});

/** An object-storage URL carries no secret: no user:password@ and no query string (a SAS token). */
const StorageUrl = z
  .string()
  .min(1)
  .max(2048)
  .refine((u) => !/^[a-z][a-z0-9+.-]*:\/\/[^/]*@/i.test(u), 'credentials in the URL are refused: name a credentialsFile instead')
  .refine((u) => !u.includes('?'), 'a query string (such as a SAS token) in the URL is refused: name a credentialsFile instead');

export const DeploymentVault = z
  .object({
    /** The vault's name on this machine. */
    name: VaultName,
    path: AbsolutePath.optional(),
    azure: StorageUrl.optional(),
    s3: StorageUrl.optional(),
    endpoint: z.string().min(1).max(2048).optional(),
    s3Region: z.string().min(1).max(64).optional(),
    /** The storage credentials: a 0600 JSON file (or, without it, the conventional environment variables). */
    credentialsFile: AbsolutePath.optional(),
    passphrase: SecretRef,
  })
  .strict()
  .superRefine(exactlyOneStorage);

export const DeploymentSource = z
  .object({
    name: SourceName,
    kind: SourceKind,
    /** A folder path, or a libvirt connection URI such as qemu:///system. */
    target: z.string().min(1).max(2048),
    region: RegionLabel,
  })
  .strict();

export const DeploymentPolicy = z.object({ vault: VaultName, name: PolicyName, spec: PolicySpec }).strict();

export const DeploymentFile = z
  .object({
    $schema: z.string().max(2048).optional(),
    version: z.literal(1),
    /** Team vaults connected at start (they exist already; this machine joins them). */
    vaults: z.array(DeploymentVault).max(64).default([]),
    /** Sources with their region labels: added when missing, their region set when it differs. */
    sources: z.array(DeploymentSource).max(256).default([]),
    /** Policies created in the team vaults (and set back when a user changed them). */
    policies: z.array(DeploymentPolicy).max(256).default([]),
    notifications: NotificationLevel.optional(),
    language: LanguageChoice.optional(),
    theme: ThemeSetting.optional(),
    /** The LAN update feed of the desktop app (electron-updater's generic provider); absent: no update checks at all. */
    updates: z
      .object({
        url: z
          .string()
          .max(2048)
          .regex(/^https?:\/\/[^\s?#]+$/, 'an http(s) URL of the folder holding latest.yml, without query or fragment'),
        checkEveryHours: z.number().int().min(1).max(168).default(24),
      })
      .strict()
      .optional(),
    /** Laptop-aware schedules: defer scheduled backups on battery below this level, or on a metered connection to a remote vault. */
    power: z
      .object({
        batteryBelowPercent: z.number().int().min(0).max(100).default(30),
        deferOnMetered: z.boolean().default(true),
      })
      .strict()
      .optional(),
    /** Settings this file sets that users may still change; every other one it sets is managed. */
    userMayChange: z.array(ManagedSetting).default([]),
  })
  .strict()
  .superRefine((d, ctx) => {
    const seen = new Set<string>();
    d.vaults.forEach((v, i) => {
      const key = v.name.toLowerCase();
      if (seen.has(key)) ctx.addIssue({ code: 'custom', path: ['vaults', i, 'name'], message: `the vault name ${v.name} is listed twice` });
      seen.add(key);
    });
  });
export type DeploymentFile = z.output<typeof DeploymentFile>;

/** The JSON Schema published in docs/deployment.schema.json. */
export function deploymentJsonSchema(): unknown {
  return {
    ...z.toJSONSchema(DeploymentFile, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' }),
    $id: 'https://coffer.invalid/deployment.schema.json',
    title: 'Coffer deployment file (/etc/coffer/deployment.json)',
  };
}
