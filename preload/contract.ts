// The one definition of Coffer's API: every method with the zod schema of its argument and its
// result, and every event the engine pushes. The Electron preload, the browser bridge, the router
// and the CLI are all typed from this table; nothing else defines the API.
import { z } from 'zod';
import { errorCatalog, type Result } from './errors.js';
import type { methodNameList } from './method-names.js';
import { isCalendarDate, PolicySchedule, PolicySpec, RetentionSpec } from './policy.js';
import { PASSPHRASE_MIN } from './passphrase.js';
import { JobMessage } from './job-messages.js';
import { boundsInOrder, isSaneInstant, SANE_YEARS } from './time-bounds.js';

export * from './policy.js';

export * from './errors.js';
export * from './passphrase.js';

export * from './job-messages.js';
export * from './full-read.js';

// ---- The vocabulary: every state set the engine reports, defined once. Pages, the CLI and the
// engine take their types (and their lists, for filters and tables) from here.

/** Every error code the engine can report, in the order of the catalog. */
export const ErrorCode = z.enum(Object.keys(errorCatalog) as [keyof typeof errorCatalog, ...(keyof typeof errorCatalog)[]]);
export type ErrorCode = z.infer<typeof ErrorCode>;

export const protectionStates = ['ProtectedPendingInitialBackup', 'Protected', 'ProtectionError', 'ProtectionStopped', 'BackupDataOnly'] as const;
/**
 * Where a registered VM stands with its policy (null on a VM that was never protected).
 * `BackupDataOnly`: a VM known only from a vault's recovery points, which no source of this install lists.
 */
export const ProtectionState = z.enum(protectionStates);
export type ProtectionState = z.infer<typeof ProtectionState>;

/** Protected now or waiting for its first backup or failing: not stopped, not backup data only, not never protected. */
export function isActiveProtection(state: ProtectionState | null): boolean {
  return state !== null && state !== 'ProtectionStopped' && state !== 'BackupDataOnly';
}

export const powerStates = ['running', 'off', 'paused', 'saved', 'unknown'] as const;
/** A VM's power state as its hypervisor (or, for a folder, its lock and suspend files) reports it. */
export const PowerState = z.enum(powerStates);
export type PowerState = z.infer<typeof PowerState>;

export const consistencyLevels = ['application', 'filesystem', 'crash', 'offline'] as const;
/** How consistent a recovery point is: application (agent + app hooks), filesystem (agent froze it), crash (live, no agent), offline (the VM was off). */
export const ConsistencyLevel = z.enum(consistencyLevels);
export type ConsistencyLevel = z.infer<typeof ConsistencyLevel>;

// Every string an API call carries is bounded (names, passphrases, references, paths, URIs), so an
// over-long argument is an InvalidArgument before any engine code sees it.
const MAX_NAME = 256;
const MAX_REF = 512;
const MAX_URI = 4096;

/** The name of an existing source or policy, as typed by the user (checked by the engine). */
const NameRef = z.string().max(MAX_NAME, `at most ${MAX_NAME} characters`);
/** A VM as the user names it: its id, its name, or cloudservice/name. */
const VmRef = z.string().min(1).max(MAX_REF, `at most ${MAX_REF} characters`);
/** A libvirt connection URI such as qemu:///system. */
const ConnectionUri = z.string().max(MAX_URI, `at most ${MAX_URI} characters`);

// Vault names follow the anchor service: 2..50 letters, digits or hyphens, starting with a letter.
export const VaultName = z
  .string()
  .max(MAX_NAME)
  .trim()
  .regex(/^[A-Za-z][A-Za-z0-9-]{1,49}$/, '2 to 50 letters, digits or hyphens, starting with a letter');

export const RegionLabel = z
  .string()
  .max(MAX_NAME)
  .trim()
  .min(1, 'a region label is required')
  .max(64, 'at most 64 characters')
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, dots, hyphens or underscores');

export const AbsolutePath = z
  .string()
  .min(1, 'a path is required')
  .max(4096)
  .refine((p) => p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p) || p.startsWith('\\\\'), 'must be an absolute path')
  .refine((p) => !p.includes('\0'), 'must not contain NUL');

export const Passphrase = z
  .string()
  .min(PASSPHRASE_MIN, `at least ${PASSPHRASE_MIN} characters`)
  .max(1024, 'at most 1024 characters');

// Policy names follow the anchor service: 3..150 letters, digits, hyphens or underscores.
export const PolicyName = z
  .string()
  .max(MAX_NAME)
  .trim()
  .regex(/^[A-Za-z][A-Za-z0-9_-]{2,149}$/, '3 to 150 letters, digits, hyphens or underscores, starting with a letter');

/**
 * Where a vault lives (createVault, connectVault): exactly one of a folder, an Azure Blob container
 * (`https://ACCOUNT.blob.core.windows.net/CONTAINER[/PREFIX]`, or an emulator URL such as
 * `http://127.0.0.1:10000/devstoreaccount1/CONTAINER[/PREFIX]`) or an S3 bucket
 * (`s3://BUCKET[/PREFIX]`, with `endpoint` for S3-compatible servers). Credentials come from the
 * conventional environment variables or from `credentialsFile` (a 0600 JSON file), never inline.
 */
export const VaultStorageFields = {
  path: AbsolutePath.optional(),
  azure: z.string().min(1).max(2048).optional(),
  s3: z.string().min(1).max(2048).optional(),
  endpoint: z.string().min(1).max(2048).optional(),
  s3Region: z.string().min(1).max(64).optional(),
  credentialsFile: AbsolutePath.optional(),
};

export function exactlyOneStorage(v: { path?: string | undefined; azure?: string | undefined; s3?: string | undefined }, ctx: z.RefinementCtx): void {
  const given = [v.path, v.azure, v.s3].filter((x) => x !== undefined).length;
  if (given !== 1) ctx.addIssue({ code: 'custom', path: ['path'], message: 'give exactly one of a folder path, an Azure URL or an S3 URL' });
}

export const Policy = z.object({
  id: z.string(),
  name: z.string(),
  builtin: z.boolean(),
  schedule: PolicySchedule,
  retention: RetentionSpec,
  /** Read unchanged disks in full every N backups; absent: once a week of the schedule (preload/policy.ts fullReadInterval). */
  fullReadEvery: z.number().int().optional(),
  /** One line of English describing schedule and retention (the console uses its own words). */
  description: z.string(),
  vmCount: z.number().int(),
});
export type Policy = z.infer<typeof Policy>;

/**
 * How a vault unlocks when the host starts, so scheduled backups run after a restart: the OS
 * keychain of the desktop app (a remembered passphrase), a key file only the service user can
 * read, or not at all (scheduled backups then fail with VaultLocked until someone unlocks it).
 */
export const UnlockAtStart = z.discriminatedUnion('via', [
  z.object({ via: z.literal('keychain') }),
  z.object({ via: z.literal('keyFile'), keyFile: z.string() }),
  z.object({ via: z.literal('none') }),
]);
export type UnlockAtStart = z.infer<typeof UnlockAtStart>;

export const VaultSummary = z.object({
  id: z.string(),
  name: z.string(),
  region: z.string(),
  location: z.string(),
  created: z.string(),
  formatVersion: z.number().int(),
  /** Whether this console holds the vault key right now. */
  unlocked: z.boolean(),
  registeredCount: z.number().int(),
  /** How the vault unlocks when the host starts (computed by the engine, shown by every face). */
  unlocksAtStart: UnlockAtStart,
  /** VMs whose protection runs scheduled backups into this vault: they fail with VaultLocked while it is locked. */
  scheduledCount: z.number().int(),
  /** The vault's format is older than the newest this Coffer writes: an Upgrade job can bring it up to date. */
  formatUpgradable: z.boolean(),
});
export type VaultSummary = z.infer<typeof VaultSummary>;

/** Where a vault lives and which lock protocol is in force there (see docs/vault-format.md, "Locks"). */
export const VaultStorageInfo = z.object({
  kind: z.enum(['folder', 'azure', 's3']),
  /** conditional: create-only writes are enforced (O_EXCL, If-None-Match); listing: write own lock, wait, list, back off. */
  lockMode: z.enum(['conditional', 'listing']),
  /** One line for people, e.g. "S3-compatible, conditional writes NOT honoured: list-based locks". */
  description: z.string(),
});
export type VaultStorageInfo = z.infer<typeof VaultStorageInfo>;

export const VaultDetails = VaultSummary.extend({
  usedBytes: z.number(),
  pointCount: z.number().int(),
  policies: z.array(Policy),
  storage: VaultStorageInfo,
});
export type VaultDetails = z.infer<typeof VaultDetails>;

const VaultRef = z.object({ name: VaultName });

export const jobStatuses = ['Queued', 'InProgress', 'Completed', 'CompletedWithWarnings', 'Failed', 'Cancelling', 'Cancelled'] as const;
export const JobStatus = z.enum(jobStatuses);
export type JobStatus = z.infer<typeof JobStatus>;
export const finishedStatuses: readonly JobStatus[] = ['Completed', 'CompletedWithWarnings', 'Failed', 'Cancelled'];

export const jobOperations = [
  'Discover',
  'Register',
  'Unregister',
  'ConfigureProtection',
  'Backup',
  'Restore',
  'Verify',
  'Prune',
  'StopProtection',
  'DeleteBackupData',
  'UpgradeVault',
  'RestoreFiles',
  'TestRestore',
] as const;
export const JobOperation = z.enum(jobOperations);
export type JobOperation = z.infer<typeof JobOperation>;

/**
 * A warning of a job: its code (whose text every face has in its language), what it is about
 * (a source, a VM's domain) and the detail no face can translate (a hypervisor's own words, file
 * names). `message` is the engine's English sentence, kept for the CLI, JSON and old rows.
 */
export const JobWarning = z.object({ code: ErrorCode, message: z.string(), subject: z.string().nullable(), detail: z.string().nullable() });
export type JobWarning = z.infer<typeof JobWarning>;

/** What started a job: an admin (console or CLI), the schedule, a catch-up of a missed slot, or the engine itself (retention after a backup). */
export const jobTriggers = ['manual', 'scheduled', 'catchUp', 'system'] as const;
export const JobTrigger = z.enum(jobTriggers);
export type JobTrigger = z.infer<typeof JobTrigger>;

/** One row of the job log (W13, W19): every operation that changes state is a job. */
export const Job = z.object({
  id: z.number().int(),
  operation: JobOperation,
  status: JobStatus,
  vaultName: z.string().nullable(),
  vmId: z.string().nullable(),
  vmName: z.string().nullable(),
  cloudService: z.string().nullable(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  endedAt: z.string().nullable(),
  durationMs: z.number().nullable(),
  bytesDone: z.number(),
  bytesTotal: z.number(),
  progress: z.number().min(0).max(1),
  bytesPerSecond: z.number(),
  /** Who started it; a catch-up is trigger 'catchUp'. */
  trigger: JobTrigger,
  /** The result (or, while it runs, what it waits for), rendered by each face in its language. */
  summary: JobMessage.nullable(),
  error: z.object({ code: ErrorCode, message: z.string(), remedy: z.string() }).nullable(),
  warnings: z.array(JobWarning),
  details: z.record(z.string(), z.unknown()),
});
export type Job = z.infer<typeof Job>;

export const SourceKind = z.enum(['folder', 'libvirt', 'virtualbox', 'vmware', 'hyperv']);
export type SourceKind = z.infer<typeof SourceKind>;
export const SourceName = z
  .string()
  .max(MAX_NAME)
  .trim()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, '1 to 64 letters, digits, dots, hyphens or underscores');

export const Source = z.object({
  id: z.string(),
  name: z.string(),
  kind: SourceKind,
  /** A folder path, a libvirt URI, or empty for tools on this machine (VirtualBox, VMware, Hyper-V). */
  target: z.string(),
  region: z.string(),
  cloudServiceLabel: z.string().nullable(),
  state: z.enum(['unknown', 'reachable', 'unreachable', 'tool-missing']),
  message: z.string(),
  lastScanAt: z.string().nullable(),
  vmCount: z.number().int(),
  /** Folder sources: folders besides the source folder that VM disks may live in. */
  allowedRoots: z.array(z.string()),
  /** Folder sources: whether VM disks may be block devices (under an allowed root). */
  allowBlockDevices: z.boolean(),
});
export type Source = z.infer<typeof Source>;

export const DiskRef = z.object({
  name: z.string(),
  path: z.string(),
  format: z.string(),
  sizeBytes: z.number().optional(),
  exists: z.boolean(),
  role: z.enum(['disk', 'backing']),
  extentOf: z.string().optional(),
  /** The source does not allow reading this file (outside its folder, or a block device it has not enabled). */
  refused: z.object({ code: z.enum(['DiskOutsideSource', 'BlockDeviceNotAllowed']), reason: z.string() }).optional(),
});

export const RegistrationState = z.enum(['NotRegistered', 'Registering', 'Registered']);

export const Vm = z.object({
  id: z.string(),
  name: z.string(),
  cloudService: z.string(),
  region: z.string(),
  sourceName: z.string(),
  kind: z.string(),
  powerState: PowerState,
  definitionPath: z.string().nullable(),
  disks: z.array(DiskRef),
  guestAgent: z.boolean().nullable(),
  problems: z.array(z.string()),
  vaultName: z.string().nullable(),
  registrationState: RegistrationState,
  protectionState: ProtectionState.nullable(),
  /** The VM was not found in its source at the last scan (SourceVmMissing); its points are kept. */
  missing: z.boolean(),
  lastSeenAt: z.string().nullable(),
});
export type Vm = z.infer<typeof Vm>;

/** "shop/web01": how every face names a VM (the cloud service tells equal names apart). */
export function vmLabel(vm: { name: string; cloudService: string | null }): string {
  return vm.cloudService ? `${vm.cloudService}/${vm.name}` : vm.name;
}

/** What naming a VM among others needs; `id` (when given) tells one VM seen twice from two VMs. */
export interface VmNameParts {
  id?: string;
  name: string;
  cloudService: string | null;
}

/** The names (lower case) that more than one of `vms` has. */
export function repeatedVmNames(vms: readonly VmNameParts[]): Set<string> {
  const seen = new Map<string, Set<string>>();
  for (const vm of vms) {
    const name = vm.name.toLowerCase();
    seen.set(name, (seen.get(name) ?? new Set()).add(vm.id ?? vmLabel(vm)));
  }
  return new Set([...seen].filter(([, ids]) => ids.size > 1).map(([name]) => name));
}

/**
 * How a face names VMs in a list (a dialog's text, a confirmation, a CLI message about several
 * VMs): the name alone when no other VM shown or `known` has it, `cloudservice/name` (vmLabel)
 * when the name repeats. A message about one VM that stands on its own (a toast, a job line, the
 * notification centre) always uses vmLabel: it outlives the list it came from.
 */
export function vmListLabels(shown: readonly VmNameParts[], known: readonly VmNameParts[] = []): string[] {
  const repeated = repeatedVmNames([...shown, ...known]);
  return shown.map((vm) => (repeated.has(vm.name.toLowerCase()) ? vmLabel(vm) : vm.name));
}

/** The VM's own disks: backing files and the extents of a split disk are not counted. */
export function diskCount(vm: Pick<Vm, 'disks'>): number {
  return vm.disks.filter((d) => d.role === 'disk' && !d.extentOf).length;
}

export const ExclusionReason = z.enum(['OtherRegion', 'AlreadyRegistered', 'Missing']);
export const DiscoveryResult = z.object({
  job: Job.nullable(),
  /** VMs that exist, are in the vault's region and are registered nowhere (W3). */
  candidates: z.array(Vm),
  /** Every other VM seen, with the rule that keeps it out (AlreadyRegistered: the vault is vm.vaultName). */
  excluded: z.array(z.object({ vm: Vm, reason: ExclusionReason, detail: z.string() })),
});

/**
 * Until when a retain-until date keeps a point, and where that date came from: the date the admin
 * gave at Backup Now, the Backup Now default (the policy's daily retention, or 30 days for a policy
 * without a daily tier), or unknown (written by another install, or before Coffer noted it).
 */
export const RetainUntilBasis = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('chosen') }),
  z.object({ kind: z.literal('default'), days: z.number().int().positive(), from: z.enum(['daily', 'fallback']) }),
  z.object({ kind: z.literal('unknown') }),
]);
export type RetainUntilBasis = z.infer<typeof RetainUntilBasis>;
export const KeptUntil = z.object({ until: z.string(), basis: RetainUntilBasis });
export type KeptUntil = z.infer<typeof KeptUntil>;

export const RecoveryPoint = z.object({
  id: z.string(),
  vmName: z.string(),
  created: z.string(),
  consistency: ConsistencyLevel,
  retainUntil: z.string().nullable(),
  /** Taken by Backup Now (kept until retainUntil) rather than by the schedule. */
  manual: z.boolean(),
  logicalBytes: z.number(),
  addedBytes: z.number(),
  disks: z.array(z.object({ name: z.string(), size: z.number(), sha256: z.string() })),
  /** The retention tiers that keep this point now (daily, weekly, monthly, yearly, retain-until, latest). */
  keptBy: z.array(z.string()),
  /** The instant the retain-until reason keeps this point to, and why that instant; null without one (scheduled points). */
  keptUntil: KeptUntil.nullable(),
});
export type RecoveryPoint = z.infer<typeof RecoveryPoint>;

/** Why a scheduled backup waits (laptop-aware schedules, main/core/power.ts): on battery below the threshold, or a metered connection to a remote vault. */
export const DeferReason = z.enum(['onBattery', 'meteredConnection']);
export type DeferReason = z.infer<typeof DeferReason>;
/** The CLI's words for a deferral (the console has its own, in its language). */
export const deferReasonEnglish: Record<DeferReason, string> = { onBattery: 'on battery', meteredConnection: 'metered connection' };

export const Dashboard = z.object({
  protectedByState: z.partialRecord(ProtectionState, z.number().int()),
  jobs24h: z.object({ completed: z.number().int(), warnings: z.number().int(), failed: z.number().int(), inProgress: z.number().int() }),
  vaults: z.array(
    z.object({ name: z.string(), region: z.string(), unlocked: z.boolean(), pointCount: z.number().int(), logicalBytes: z.number(), storedBytes: z.number(), savedBytes: z.number() }),
  ),
  vms: z.array(
    z.object({
      id: z.string(),
      name: z.string(),
      cloudService: z.string(),
      vaultName: z.string(),
      state: ProtectionState,
      policy: z.string().nullable(),
      lastBackupAt: z.string().nullable(),
      lastBackupStatus: JobStatus.nullable(),
      nextBackupAt: z.string().nullable(),
      /** The next backup waits for this (the laptop is on battery, the connection metered); null: it runs on time. */
      deferred: DeferReason.nullable(),
    }),
  ),
  backupVolumeByDay: z.array(z.object({ day: z.string(), logicalBytes: z.number(), addedBytes: z.number() })),
});
export type Dashboard = z.infer<typeof Dashboard>;

/** A row of Protected Items: the VM with its policy and its last and next backup. */
export const ProtectedItem = Vm.extend({
  policy: z.string().nullable(),
  lastBackupAt: z.string().nullable(),
  lastBackupStatus: JobStatus.nullable(),
  nextBackupAt: z.string().nullable(),
  /** The job running on this VM now (a backup, restore, verify...), with its progress; null when none runs. */
  activeJob: Job.nullable(),
});
export type ProtectedItem = z.infer<typeof ProtectedItem>;

const VmRefs = z.array(VmRef).min(1, 'name at least one VM').max(1000);

const IsoDate = z
  .string()
  .max(64)
  .refine((s) => !Number.isNaN(Date.parse(s)) && (!/^\d{4}-\d{2}-\d{2}$/.test(s) || isCalendarDate(s)), 'must be an ISO date (a day that exists) or date-time')
  .refine((s) => Number.isNaN(Date.parse(s)) || isSaneInstant(Date.parse(s)), `must be a year from ${SANE_YEARS.min} to ${SANE_YEARS.max}`);

export const JobQuery = z
  .object({
    status: z.array(JobStatus).optional(),
    operation: z.array(JobOperation).optional(),
    trigger: z.array(JobTrigger).optional(),
    from: IsoDate.optional(),
    to: IsoDate.optional(),
    vault: NameRef.optional(),
    vm: VmRef.optional(),
    limit: z.number().int().min(1).max(1000).default(100),
    /** The `nextCursor` of the previous page (keyset pagination: stable while jobs are added). */
    cursor: z.string().max(MAX_REF).optional(),
  })
  .strict()
  // from/to name whole spans at their precision (preload/time-bounds.ts): "to 21:49" includes 21:49:59.
  .refine((q) => boundsInOrder(q.from, q.to), { message: 'from must not be after to', path: ['from'] });


/** The disk formats a restore can write (through qemu-img convert); without one, disks keep the format they were backed up in. */
export const restoreFormats = ['raw', 'qcow2', 'vmdk', 'vhdx', 'vdi'] as const;
export const RestoreFormat = z.enum(restoreFormats);
export type RestoreFormat = z.infer<typeof RestoreFormat>;

/** A libvirt connection a restore defines or boots a VM on. */
const LibvirtUri = ConnectionUri.regex(/^[a-z][a-z0-9+]*:\/\/\S*$/, 'a libvirt connection URI such as qemu:///system');

/** The name of a VM restored as new: one path segment, no slashes. */
export const RestoredVmName = z.string().trim().min(1).max(128).regex(/^[^/\\\0]+$/, 'no slashes');

export const EngineInfo = z.object({
  version: z.string(),
  dataDir: z.string(),
  face: z.enum(['electron', 'browser', 'cli']),
  platform: z.string(),
  /**
   * Whether this host can keep a passphrase safely (a real OS keychain: the desktop app). Where it
   * cannot (`coffer serve`, a headless server), "remember" is not offered and a key file is.
   */
  keepsSecrets: z.boolean(),
});

// ---- issue 11: the vault is the truth (connect an existing vault, Backup data only items) ----

/** Protection state of a VM known only from a vault's recovery points: no source of this install lists it. */
export const BackupDataOnlyState = 'BackupDataOnly' satisfies ProtectionState;

/** A protection recorded in the vault that this install resumes only once the admin confirms it. */
export const PendingProtection = z.object({
  vmId: z.string(),
  vmName: z.string(),
  cloudService: z.string(),
  policy: z.string(),
  /** No source of this install lists the VM yet: associate it (or discover it) before confirming. */
  backupDataOnly: z.boolean(),
});
export type PendingProtection = z.infer<typeof PendingProtection>;

export const ConnectedVault = VaultSummary.extend({
  pointCount: z.number().int(),
  /** Names of the VMs shown as Backup data only items (no source of this install lists them). */
  backupDataOnlyVms: z.array(z.string()),
  pendingProtections: z.array(PendingProtection),
});
export type ConnectedVault = z.infer<typeof ConnectedVault>;

// ---- issue 12: notifications come from the job log on the host ----

/** How a notification looks: a job that completed, completed with warnings, or failed. */
export const NotificationIntent = z.enum(['success', 'warning', 'error']);
export type NotificationIntent = z.infer<typeof NotificationIntent>;

/** A place in the order jobs end (opaque): `since` of listNotifications, `upTo` of markNotificationsRead. */
const NotificationCursor = z.string().min(1).max(MAX_REF);

/** A finished job worth telling the admin about, with whether the admin has seen it (kept on the host). */
export const JobNotification = z.object({
  cursor: z.string(),
  intent: NotificationIntent,
  read: z.boolean(),
  job: Job,
});
export type JobNotification = z.infer<typeof JobNotification>;

export const JobNotificationList = z.object({
  /** Newest first. */
  notifications: z.array(JobNotification),
  /** Unread notifications in all (also those beyond this page). */
  unread: z.number().int(),
  /** The newest cursor this answer knows (the `since` given when nothing is newer); null when none. */
  latest: z.string().nullable(),
});
export type JobNotificationList = z.infer<typeof JobNotificationList>;

// ---- issue 15: the deployment file (main/core/deployment.ts) ----
/** Settings a deployment file can fix for every user of a machine ("Managed by your organisation"). */
export const ManagedSetting = z.enum(['language', 'theme', 'notifications', 'updates', 'power']);
export type ManagedSetting = z.infer<typeof ManagedSetting>;
export const LanguageChoice = z.enum(['en', 'nl']);
export const ThemeSetting = z.enum(['light', 'dark', 'system']);
export const NotificationLevel = z.enum(['off', 'failures', 'all']);
/** What this machine's deployment file set, for the faces to show and honour. */
export const DeploymentInfo = z.object({
  /** The file read at start; null when there is none. */
  file: z.string().nullable(),
  /** The settings the file fixes (a user cannot change them). */
  managed: z.array(ManagedSetting),
  language: LanguageChoice.nullable(),
  theme: ThemeSetting.nullable(),
  notifications: NotificationLevel.nullable(),
  /** The LAN update feed; null: updates are off. */
  updateFeed: z.string().nullable(),
  vaults: z.array(z.string()),
  policies: z.array(z.object({ vault: z.string(), name: z.string() })),
});
export type DeploymentInfo = z.infer<typeof DeploymentInfo>;

/** name -> argument schema and result schema. Add a method here and every face gets it. */
// ---- file-level restore (issue 14 §1) ----

/** The largest piece readPointFile answers in one call. */
export const MAX_FILE_PIECE = 8 * 1024 * 1024;
/** A path inside a point's filesystem ("/etc/hosts"); "/" is the root. */
const PointPath = z.string().min(1).max(4096).refine((p) => !p.includes('\0'), 'no NUL in a path');
const PointFileSelector = {
  vm: VmRef,
  pointId: z.string().min(1).max(128),
  /** A disk of the point by name (default: the first with a browsable partition). */
  disk: z.string().min(1).max(255).optional(),
  /** A partition number as the OS counts it (1, 2, ...; MBR logical from 5). */
  partition: z.number().int().min(1).max(256).optional(),
};
export const pointFileKinds = ['file', 'dir', 'symlink', 'other'] as const;
export const PointFileEntry = z.object({
  name: z.string(),
  kind: z.enum(pointFileKinds),
  size: z.number(),
  mtime: z.string(),
  /** POSIX mode bits (type and permissions). */
  mode: z.number().int(),
  /** A symlink's target, as stored. */
  target: z.string().nullable(),
});
export type PointFileEntry = z.infer<typeof PointFileEntry>;
/** "drwxr-xr-x", "-rw-r-----", "lrwxrwxrwx": a mode as ls shows it, for the console and the CLI alike. */
export function formatMode(mode: number): string {
  const t = mode & 0o170000;
  const type = t === 0o040000 ? 'd' : t === 0o120000 ? 'l' : t === 0o100000 ? '-' : t === 0o020000 ? 'c' : t === 0o060000 ? 'b' : t === 0o010000 ? 'p' : t === 0o140000 ? 's' : '?';
  const bits = 'rwxrwxrwx'.split('').map((c, i) => (mode & (0o400 >> i) ? c : '-'));
  if (mode & 0o4000) bits[2] = bits[2] === 'x' ? 's' : 'S';
  if (mode & 0o2000) bits[5] = bits[5] === 'x' ? 's' : 'S';
  if (mode & 0o1000) bits[8] = bits[8] === 'x' ? 't' : 'T';
  return type + bits.join('');
}
export const PointPartition = z.object({
  number: z.number().int(),
  start: z.number(),
  size: z.number(),
  type: z.string(),
  label: z.string(),
  filesystem: z.string(),
  filesystemLabel: z.string(),
  browsable: z.boolean(),
  /** Why it cannot be browsed and what would read it ("NTFS: install ntfs-3g to browse"). */
  reason: z.string().nullable(),
});
export type PointPartition = z.infer<typeof PointPartition>;
export const PointDisk = z.object({
  name: z.string(),
  size: z.number(),
  format: z.string(),
  scheme: z.enum(['gpt', 'mbr', 'none']),
  partitions: z.array(PointPartition),
  reason: z.string().nullable(),
});
export type PointDisk = z.infer<typeof PointDisk>;
export const PointFileListing = z.object({
  pointId: z.string(),
  disks: z.array(PointDisk),
  disk: z.string().nullable(),
  partition: z.number().int().nullable(),
  filesystem: z.string().nullable(),
  path: z.string(),
  entries: z.array(PointFileEntry),
  /** Bytes fetched from the vault's storage for this answer. */
  bytesFetched: z.number(),
});
export type PointFileListing = z.infer<typeof PointFileListing>;
export const PointFilePiece = z.object({
  path: z.string(),
  size: z.number(),
  offset: z.number(),
  data: z.string(),
  mode: z.number().int(),
  mtime: z.string(),
  bytesFetched: z.number(),
});
export type PointFilePiece = z.infer<typeof PointFilePiece>;

export const methods = {
  engineInfo: { args: z.object({}).strict(), result: EngineInfo },
  listVaults: { args: z.object({}).strict(), result: z.array(VaultSummary) },
  showVault: { args: VaultRef.strict(), result: VaultDetails },
  createVault: {
    args: z
      .object({
        name: VaultName,
        region: RegionLabel,
        passphrase: Passphrase,
        ...VaultStorageFields,
        /** The admin accepts a weak passphrase (isWeakPassphrase); without it the engine refuses one with PassphraseWeak. */
        weakPassphraseOk: z.boolean().optional(),
      })
      .strict()
      .superRefine(exactlyOneStorage),
    result: VaultSummary,
  },
  unlockVault: {
    args: z
      .object({
        name: VaultName,
        passphrase: z.string().min(1, 'the passphrase is required').max(1024, 'at most 1024 characters'),
        /** Remember it for scheduled backups where the host has an OS keychain (`engineInfo.keepsSecrets`); elsewhere it unlocks, unremembered. */
        remember: z.boolean().default(false),
      })
      .strict(),
    result: VaultSummary,
  },
  setVaultKeyFile: {
    args: z.object({ name: VaultName, keyFile: AbsolutePath.nullable() }).strict(),
    result: VaultSummary,
  },
  lockVault: { args: VaultRef.strict(), result: VaultSummary },
  deleteVault: {
    args: z
      .object({
        name: VaultName,
        /** Also remove the vault's storage folder. Without it the data stays for others to open. */
        deleteData: z.boolean().default(false),
      })
      .strict(),
    result: z.object({ name: z.string(), dataDeleted: z.boolean(), location: z.string() }),
  },
  addSource: {
    args: z
      .object({
        kind: SourceKind,
        target: ConnectionUri.default(''),
        region: RegionLabel,
        name: SourceName.optional(),
        cloudServiceLabel: z.string().trim().min(1).max(128).optional(),
        allowedRoots: z.array(AbsolutePath).max(32).optional(),
        allowBlockDevices: z.boolean().optional(),
      })
      .strict()
      .superRefine((a, ctx) => {
        if (a.kind === 'folder' && !AbsolutePath.safeParse(a.target).success) {
          ctx.addIssue({ code: 'custom', path: ['target'], message: 'a folder source needs an absolute folder path' });
        }
        if (a.kind === 'libvirt' && !/^[a-z][a-z0-9+]*:\/\/[^\s]*$/.test(a.target)) {
          ctx.addIssue({ code: 'custom', path: ['target'], message: 'a libvirt source needs a connection URI such as qemu:///system' });
        }
      }),
    result: Source,
  },
  listSources: { args: z.object({}).strict(), result: z.array(Source) },
  showSource: { args: z.object({ name: NameRef }).strict(), result: Source.extend({ vms: z.array(Vm) }) },
  editSource: {
    args: z
      .object({
        name: NameRef,
        newName: SourceName.optional(),
        region: RegionLabel.optional(),
        cloudServiceLabel: z.string().trim().max(128).nullable().optional(),
        allowedRoots: z.array(AbsolutePath).max(32).optional(),
        allowBlockDevices: z.boolean().optional(),
      })
      .strict(),
    result: Source,
  },
  removeSource: { args: z.object({ name: NameRef }).strict(), result: z.object({ name: z.string(), forgottenVms: z.number().int() }) },
  discoverVms: { args: z.object({ vault: VaultName }).strict(), result: Job },
  discoveryResult: { args: z.object({ vault: VaultName }).strict(), result: DiscoveryResult },
  listVms: {
    args: z.object({ vault: VaultName.optional(), registered: z.boolean().optional() }).strict(),
    result: z.array(Vm),
  },
  registerVms: { args: z.object({ vault: VaultName, vms: VmRefs }).strict(), result: z.array(Job) },
  unregisterVms: { args: z.object({ vault: VaultName, vms: VmRefs }).strict(), result: z.array(Job) },
  listPolicies: { args: z.object({ vault: VaultName }).strict(), result: z.array(Policy) },
  showPolicy: { args: z.object({ vault: VaultName, name: NameRef }).strict(), result: Policy.extend({ vms: z.array(Vm) }) },
  createPolicy: { args: z.object({ vault: VaultName, name: PolicyName, spec: PolicySpec }).strict(), result: Policy },
  editPolicy: { args: z.object({ vault: VaultName, name: NameRef, spec: PolicySpec }).strict(), result: Policy },
  deletePolicy: { args: z.object({ vault: VaultName, name: NameRef }).strict(), result: z.object({ name: z.string() }) },
  protectVms: {
    args: z
      .object({
        vault: VaultName,
        vms: VmRefs,
        /** An existing policy, taken as it is (its retention cannot be changed here, W11)... */
        policy: NameRef.optional(),
        /** ...or a new one defined in the same call. */
        newPolicy: z.object({ name: PolicyName, spec: PolicySpec }).optional(),
      })
      .strict()
      .refine((a) => !a.policy !== !a.newPolicy, { message: 'choose an existing policy or define a new one', path: ['policy'] }),
    result: z.array(Job),
  },
  changePolicy: { args: z.object({ vm: VmRef, policy: NameRef }).strict(), result: Job },
  stopProtection: {
    args: z
      .object({ vm: VmRef, deleteData: z.boolean().default(false), confirmName: z.string().max(MAX_REF).optional() })
      .strict(),
    result: Job,
  },
  resumeProtection: { args: z.object({ vm: VmRef }).strict(), result: Job },
  /** fullRead: read every disk in full, even those unchanged since their last point (FullReadReason 'forced'). */
  backupNow: { args: z.object({ vms: VmRefs, retainUntil: IsoDate.optional(), fullRead: z.boolean().optional() }).strict(), result: z.array(Job) },
  listPoints: { args: z.object({ vm: VmRef }).strict(), result: z.array(RecoveryPoint) },
  restorePoint: {
    args: z
      .object({
        vm: VmRef,
        pointId: z.string().min(1).max(128),
        /** disks: into an empty folder; newVm: disks + definition with a new name and UUID; replaceDisks: over the VM's own disks, originals kept as safety copies. */
        mode: z.enum(['disks', 'newVm', 'replaceDisks']),
        targetDir: AbsolutePath.optional(),
        newName: RestoredVmName.optional(),
        /** newVm from a libvirt definition: also define it on this connection (virsh define). */
        defineOn: ConnectionUri.regex(/^[a-z][a-z0-9+]*:\/\/\S*$/, 'a libvirt connection URI such as qemu:///system').optional(),
        /** The format the restored disks are written in (qemu-img convert); default: as backed up (a VM defined on libvirt from another hypervisor's definition: qcow2). */
        format: RestoreFormat.optional(),
      })
      .strict()
      .superRefine((a, ctx) => {
        if (a.mode !== 'replaceDisks' && !a.targetDir) ctx.addIssue({ code: 'custom', path: ['targetDir'], message: 'a target folder is required' });
        if (a.mode === 'newVm' && !a.newName) ctx.addIssue({ code: 'custom', path: ['newName'], message: 'a restored VM needs a new name' });
        if (a.defineOn && a.mode !== 'newVm') ctx.addIssue({ code: 'custom', path: ['defineOn'], message: 'only a VM restored as new can be defined' });
        if (a.format && a.mode === 'replaceDisks') ctx.addIssue({ code: 'custom', path: ['format'], message: 'replaced disks keep the format the VM uses' });
      }),
    result: Job,
  },
  verifyVault: { args: z.object({ vault: VaultName, full: z.boolean().default(false) }).strict(), result: Job },
  /**
   * Test restore: the point restored as a temporary VM (coffer-test-...) on a libvirt connection,
   * on an isolated network, booted until it answers (guest agent ping, or `heartbeat` on its serial
   * console), then removed with its disks and network, whatever happened.
   */
  testRestore: {
    args: z
      .object({
        vm: VmRef,
        pointId: z.string().min(1).max(128),
        /** Where the temporary VM runs (default qemu:///system); its disks are restored on this machine, so the URI must be local. */
        uri: LibvirtUri.optional(),
        /** How long the VM has to answer after it starts. */
        timeoutSeconds: z.number().int().min(5).max(86_400).default(600),
        /** Text the guest prints on its serial console once it is up (used when the definition has no guest agent channel). */
        heartbeat: z.string().min(1).max(200).default('login:'),
        /** An existing isolated libvirt network (no <forward>) instead of one made for the test. */
        network: z.string().min(1).max(64).regex(/^[A-Za-z0-9_.-]+$/, 'a libvirt network name').optional(),
      })
      .strict(),
    result: Job,
  },
  dashboard: { args: z.object({}).strict(), result: Dashboard },
  /** The VMs of a vault that have a protection state (Protected Items), with policy and last/next backup. */
  listProtectedItems: { args: z.object({ vault: VaultName }).strict(), result: z.array(ProtectedItem) },
  /** The desktop app's native folder picker (`NotAvailableHere` in the browser console and the CLI). */
  pickFolder: {
    args: z.object({ title: z.string().max(200).optional(), defaultPath: AbsolutePath.optional() }).strict(),
    result: z.object({ path: z.string().nullable() }),
  },
  listJobs: { args: JobQuery, result: z.object({ jobs: z.array(Job), nextCursor: z.string().nullable() }) },
  showJob: { args: z.object({ id: z.number().int().positive() }).strict(), result: Job },
  cancelJob: { args: z.object({ id: z.number().int().positive() }).strict(), result: Job },
  troubleshooting: {
    args: z.object({}).strict(),
    result: z.array(z.object({ code: ErrorCode, message: z.string(), remedy: z.string() })),
  },
  /** The locked vaults among these vaults and the vaults these VMs are registered with (names). */
  vaultsToUnlock: {
    args: z.object({ vaults: z.array(VaultName).max(1000).optional(), vms: z.array(VmRef).max(1000).optional() }).strict(),
    result: z.array(z.string()),
  },
  /** "Back up all now": a Backup Now job for every VM whose protection is active; VMs that refuse are listed. */
  backupAll: {
    args: z.object({}).strict(),
    result: z.object({ jobs: z.array(Job), refused: z.array(z.object({ vm: z.string(), code: z.string(), message: z.string() })) }),
  },
  /** Makes an existing vault (made by another install, or before a rebuild) usable here, under a local name. */
  connectVault: {
    args: z
      .object({
        name: VaultName,
        passphrase: z.string().min(1, 'the passphrase is required').max(1024, 'at most 1024 characters'),
        remember: z.boolean().default(false),
        ...VaultStorageFields,
      })
      .strict()
      .superRefine(exactlyOneStorage),
    result: ConnectedVault,
  },
  /** Forgets the vault in this install; its data stays in the storage for any install to connect again. */
  disconnectVault: { args: VaultRef.strict(), result: z.object({ name: z.string(), location: z.string() }) },
  /** Joins a Backup data only item with the VM a source lists (same VM), so its protection can continue. */
  associateVm: { args: z.object({ vm: VmRef, with: VmRef }).strict(), result: Vm },
  listPendingProtections: { args: z.object({ vault: VaultName }).strict(), result: z.array(PendingProtection) },
  /** Resumes the protections recorded in the vault (all pending ones of the vault, or the VMs named). */
  confirmProtections: { args: z.object({ vault: VaultName, vms: VmRefs.optional() }).strict(), result: z.array(Vm) },
  /**
   * The admin accepts the disk paths the last discovery found for this VM (after a Backup failed with
   * DiskPathsChanged): its backups read them from now on.
   */
  approveDiskPaths: { args: z.object({ vm: VmRef }).strict(), result: Vm },
  /**
   * The notifications of the job log: the most recent ones (not cleared), or only those newer
   * than `since` (what a page that reconnects missed), each with its read state.
   */
  listNotifications: {
    args: z.object({ since: NotificationCursor.optional(), limit: z.number().int().min(1).max(200).default(50) }).strict(),
    result: JobNotificationList,
  },
  /** Marks every notification up to `upTo` (a cursor the admin was shown) read; `clear` also hides them. */
  markNotificationsRead: {
    args: z.object({ upTo: NotificationCursor, clear: z.boolean().default(false) }).strict(),
    result: z.object({ unread: z.number().int() }),
  },
  /** Upgrades a vault to the newest format (or finishes a stopped upgrade) as an UpgradeVault job under the exclusive lock. */
  upgradeVault: { args: z.object({ vault: VaultName }).strict(), result: Job },
  /** File-level restore: a point's disks and partitions, and the entries of one folder (the root of the first browsable partition unless told). */
  listPointFiles: { args: z.object({ ...PointFileSelector, path: PointPath.optional() }).strict(), result: PointFileListing },
  /** Up to `length` bytes of one file of a point from `offset` (base64): the CLI's `files cat` and the console's download read it piece by piece. */
  readPointFile: {
    args: z.object({ ...PointFileSelector, path: PointPath, offset: z.number().int().min(0).default(0), length: z.number().int().min(1).max(MAX_FILE_PIECE).default(MAX_FILE_PIECE) }).strict(),
    result: PointFilePiece,
  },
  /** Restores files and folders of a point into a folder as a job (modes, times, symlinks kept; never overwrites: the folder must be empty unless keepBoth). */
  restorePointFiles: {
    args: z.object({ ...PointFileSelector, paths: z.array(PointPath).min(1, 'name at least one file or folder').max(1000), targetDir: AbsolutePath, keepBoth: z.boolean().default(false) }).strict(),
    result: Job,
  },
  /** What the machine's deployment file manages (issue 15). */
  deploymentInfo: { args: z.object({}).strict(), result: DeploymentInfo },
} as const;

export type Methods = typeof methods;
export type MethodName = keyof Methods;
export type ArgsOf<M extends MethodName> = z.input<Methods[M]['args']>;
export type ParsedArgsOf<M extends MethodName> = z.output<Methods[M]['args']>;
export type ResultOf<M extends MethodName> = z.output<Methods[M]['result']>;

/** Events the engine pushes to every face. */
export const events = {
  /** The vault list or a vault's details changed. */
  vaultsChanged: z.object({ names: z.array(z.string()) }),
  /** A job was created or changed (status, progress). */
  jobUpdated: Job,
  /** Policies, protection states or recovery points changed. */
  protectionChanged: z.object({}),
  /** Notifications were marked read or cleared (by any page): read them again. */
  notificationsRead: z.object({ unread: z.number().int() }),
} as const;
export type Events = typeof events;
export type EventName = keyof Events;
export type EventPayload<E extends EventName> = z.output<Events[E]>;

/** What the renderer sees as `window.coffer`, identical in Electron and in the browser. */
export type CofferApi = {
  [M in MethodName]: (args: ArgsOf<M>) => Promise<Result<ResultOf<M>>>;
} & {
  on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void;
  /** Reports whether the engine can be reached (always true in Electron). */
  onConnection(listener: (connected: boolean) => void): () => void;
};

// The zod-free list in method-names.ts must name exactly the methods of the table above.
type ListedMethod = (typeof methodNameList)[number];
const listIsComplete: [Exclude<MethodName, ListedMethod>, Exclude<ListedMethod, MethodName>] extends [never, never] ? true : never = true;
void listIsComplete;

/** The single IPC channel names used by Electron. */
export const IPC_CALL = 'coffer:call';
export const IPC_EVENT = 'coffer:event';
