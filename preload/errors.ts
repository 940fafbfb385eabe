// The stable error codes of Coffer, each with the text the console shows beside a failed job
// (W21). Shared by the engine, the router, the CLI and the renderer: it must stay free of Node.

export interface ErrorInfo {
  /** What went wrong, in words a person understands. */
  readonly message: string;
  /** The next step for the admin. */
  readonly remedy: string;
}

export const errorCatalog = {
  InvalidArgument: {
    message: 'A value in the request is not valid.',
    remedy: 'Correct the field named in the message and try again.',
  },
  UnknownMethod: {
    message: 'The console asked the engine for an operation it does not know.',
    remedy: 'Restart Coffer; if the console and engine versions differ, reinstall Coffer.',
  },
  Internal: {
    message: 'Coffer hit an unexpected internal error.',
    remedy: 'Retry the operation. If it keeps failing, keep the data folder and report the message.',
  },
  EngineUnreachable: {
    message: 'The console cannot reach the Coffer engine.',
    remedy: 'Check that the desktop app or `coffer serve` is still running, then reload the page.',
  },
  CatalogTooNew: {
    message: 'The catalog in this data folder was written by a newer Coffer.',
    remedy: 'Install the newer Coffer that wrote it, or start this one with another --data-dir.',
  },
  CatalogUnreadable: {
    message: 'The catalog database in the data folder cannot be opened.',
    remedy: 'Check the permissions and free space of the data folder.',
  },
  VaultNameTaken: {
    message: 'A vault with this name already exists.',
    remedy: 'Choose another name; vault names are unique in this console (ignoring case).',
  },
  VaultFolderNotEmpty: {
    message: 'The storage folder for a new vault must be empty or not exist yet.',
    remedy: 'Pick an empty folder or a new path; Coffer never mixes a vault with other files.',
  },
  VaultPathInvalid: {
    message: 'The storage location is not a usable absolute folder path.',
    remedy: 'Give an absolute path to a folder on a local disk, NAS mount or USB disk.',
  },
  VaultNotFound: {
    message: 'No vault with this name or at this location.',
    remedy: 'Check the name with `coffer vault list`, or the storage path of the vault.',
  },
  VaultHasRegisteredItems: {
    message: 'The vault still has registered virtual machines.',
    remedy: 'Stop protection and unregister every VM of the vault first.',
  },
  VaultFormatTooNew: {
    message: 'The vault was written by a newer Coffer with a format this version cannot read.',
    remedy: 'Upgrade Coffer to open this vault. Nothing in the vault was changed.',
  },
  VaultCorrupt: {
    message: 'The vault configuration is damaged or not a Coffer vault.',
    remedy: 'Check that the path points to a Coffer vault; restore its config file from a copy.',
  },
  WrongPassphrase: {
    message: 'The passphrase does not unlock this vault.',
    remedy: 'Type the passphrase the vault was created with. Without it the backups cannot be read.',
  },
  VaultLocked: {
    message: 'The vault is locked: its key is not available to this console.',
    remedy: 'Open the vault with its passphrase (or let Coffer remember it for scheduled backups).',
  },
  VaultBusy: {
    message: 'Another operation holds the vault lock.',
    remedy: 'Wait for the running prune or backup to finish, then retry.',
  },
  DiskChangedDuringBackup: {
    message: 'A disk file changed while it was being read, so the backup would be torn.',
    remedy: 'Shut the VM down or back it up through its hypervisor (live snapshot), then retry.',
  },
  DiskUnreadable: {
    message: 'A disk file of the VM could not be read.',
    remedy: 'Check that the file exists and that Coffer may read it.',
  },
  StorageFull: {
    message: 'The vault storage ran out of space. The vault is still consistent.',
    remedy: 'Free space on the vault storage or prune old recovery points, then retry.',
  },
  ChunkCorrupt: {
    message: 'Stored data failed its integrity check.',
    remedy: 'Run a full verify to see which recovery points are damaged; back the VM up again.',
  },
  RestoreTargetNotEmpty: {
    message: 'The restore target folder is not empty.',
    remedy: 'Choose an empty or new folder. Coffer never overwrites files when restoring.',
  },
  RecoveryPointNotFound: {
    message: 'No recovery point with this id in the vault.',
    remedy: 'List the points of the VM and pick one of their ids.',
  },
  Interrupted: {
    message: 'The job was interrupted: Coffer stopped or the machine shut down while it ran.',
    remedy: 'Nothing half-done was kept. Run the operation again, or wait for the next scheduled run.',
  },
  OperationCancelled: {
    message: 'The job was cancelled; nothing partial was kept.',
    remedy: 'Start the operation again when you want it.',
  },
  JobNotFound: {
    message: 'No job with this id.',
    remedy: 'List the jobs with `coffer job list` and use one of their ids.',
  },
  JobNotCancellable: {
    message: 'The job has already finished, so it cannot be cancelled.',
    remedy: 'No action needed.',
  },
  SourceNotFound: {
    message: 'No source with this name.',
    remedy: 'List the sources with `coffer source list` and use one of their names.',
  },
  SourceNameTaken: {
    message: 'A source with this name already exists.',
    remedy: 'Choose another name with --name.',
  },
  SourceInUse: {
    message: 'VMs of this source are still registered to a vault.',
    remedy: 'Unregister the VMs of this source first; their recovery points stay in the vault.',
  },
  SourceUnreachable: {
    message: 'The source could not be queried.',
    remedy: 'Check that the folder exists or the hypervisor connection works (for libvirt: `virsh -c URI list`).',
  },
  DiscoveryInProgress: {
    message: 'A discovery is already running for this vault.',
    remedy: 'Wait for it to finish; its result appears in Registered Items.',
  },
  VmNotFound: {
    message: 'No discovered VM matches this name or id.',
    remedy: 'Run Discover for the vault, then use a name from its list (cloudservice/name where names repeat).',
  },
  VmAmbiguous: {
    message: 'Several VMs have this name.',
    remedy: 'Name the VM as cloudservice/name; the candidates are listed in the message.',
  },
  VmNotInVaultRegion: {
    message: "The VM is in another region than the vault. A vault only protects VMs of its own region.",
    remedy: 'Register the VM with a vault of its region, or create a vault in that region.',
  },
  VmAlreadyRegistered: {
    message: 'The VM is already registered to a vault. A VM belongs to one vault at a time.',
    remedy: 'Unregister it from that vault first (stop its protection before that).',
  },
  VmIsProtected: {
    message: 'The VM is protected; a protected VM cannot be unregistered.',
    remedy: 'Stop protection of the VM first (keeping or deleting its backup data).',
  },
  SourceVmMissing: {
    message: 'The VM is no longer found in its source. Its recovery points are kept.',
    remedy: 'Check whether the VM was moved or deleted; restore it from a recovery point if needed.',
  },
  GuestAgentUnavailable: {
    message: 'The guest agent did not answer, so the snapshot is crash-consistent only.',
    remedy: 'Install and start qemu-guest-agent in the VM for application-consistent backups.',
  },
  PolicyNotFound: {
    message: 'The vault has no policy with this name.',
    remedy: 'List the policies of the vault and pick one, or create it first.',
  },
  PolicyNameTaken: {
    message: 'The vault already has a policy with this name.',
    remedy: 'Choose another name, or pick the existing policy.',
  },
  PolicyBuiltIn: {
    message: 'The built-in DefaultPolicy of a vault cannot be deleted.',
    remedy: 'Edit it instead, or protect VMs with another policy.',
  },
  PolicyInUse: {
    message: 'The policy still protects VMs.',
    remedy: 'Move those VMs to another policy (change policy) or stop their protection first.',
  },
  VmNotRegistered: {
    message: 'The VM is not registered to the vault.',
    remedy: 'Register the VM with the vault first (Registered Items, Register).',
  },
  VmAlreadyProtected: {
    message: 'The VM is already protected; a VM has exactly one policy.',
    remedy: 'Use "change policy" to give it another policy.',
  },
  VmNotProtected: {
    message: 'The VM is not protected.',
    remedy: 'Protect the VM with a policy first (Protected Items, Protect).',
  },
  BackupAlreadyInProgress: {
    message: 'A job for this VM is already running; one job at a time per VM.',
    remedy: 'Wait for the running job to finish, or cancel it from the Jobs page.',
  },
  RecoveryPointLimitReached: {
    message: 'The VM has reached the limit of 9999 recovery points.',
    remedy: 'Shorten the retention of its policy or delete old recovery points.',
  },
  NotAvailableHere: {
    message: 'This action needs the desktop app.',
    remedy: 'Type the path instead.',
  },
  DefineFailed: {
    message: 'The hypervisor refused the restored VM definition.',
    remedy: 'The restored files are in the target folder: correct the definition and define it yourself (virsh define FILE).',
  },
  VmRunning: {
    message: 'The VM is running, so its disks cannot be replaced.',
    remedy: 'Shut the VM down first, or restore as a new VM or to a folder instead.',
  },
  SnapshotFailed: {
    message: 'The hypervisor could not take or merge the live snapshot of the running VM.',
    remedy: 'Check the VM in the hypervisor (virsh domblklist / snapshot-list); the message says what to run.',
  },
} as const satisfies Record<string, ErrorInfo>;

export type ErrorCode = keyof typeof errorCatalog;

/** The error half of every API result. */
export interface ApiError {
  code: ErrorCode;
  message: string;
  remedy: string;
  details?: Record<string, unknown>;
}

export type Result<T> = { ok: true; value: T } | { ok: false; error: ApiError };
