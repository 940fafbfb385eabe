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
  RestoreTargetFull: {
    message: 'The restore target ran out of space. The partly restored files were removed; the vault is unchanged.',
    remedy: 'Free space where the restore writes, or choose a folder on a disk with room for the whole VM, then restore again.',
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
  LibvirtUriRefused: {
    message: 'This libvirt connection URI would make Coffer run a program or reach a socket the URI chooses.',
    remedy: 'Use a plain connection URI: qemu:///system on this machine, qemu+ssh://user@host/system or qemu+tls://host/system for another host.',
  },
  VaultAlreadyConnected: {
    message: 'This vault is already connected to this install (the vault id is the same), perhaps under another name.',
    remedy: 'Use the vault already listed (`coffer vault list`); disconnect it first to connect it under another name.',
  },
  VaultJobsRunning: {
    message: 'Jobs of this vault are still running.',
    remedy: 'Wait for them to finish or cancel them on the Jobs page, then retry.',
  },
  VmBackupDataOnly: {
    message: 'No source of this install lists this VM: only its backup data is here.',
    remedy: 'Add the source that holds the VM and discover, or associate the item with the VM (`associateVm`); its points can be restored meanwhile.',
  },
  StorageUnreachable: {
    message: 'The vault storage could not be reached.',
    remedy: 'Check that the storage endpoint named in the message is up and reachable from this machine (network, firewall, proxy), then retry. The vault stays consistent; the next backup reuses what was uploaded.',
  },
  StorageAuthFailed: {
    message: 'The vault storage refused the credentials.',
    remedy: 'Check the key, connection string, SAS token or credentials file (expired? another account?) and that it may read, write, list and delete in the container or bucket.',
  },
  StorageLocationInvalid: {
    message: 'The storage location is not a valid Azure Blob or S3 location.',
    remedy: 'Give --azure https://ACCOUNT.blob.core.windows.net/CONTAINER[/PREFIX] or --s3 s3://BUCKET[/PREFIX] [--endpoint URL].',
  },
  StorageCredentialsMissing: {
    message: 'No credentials for the object storage were found.',
    remedy: 'For Azure set AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_KEY, or put a SAS token in the URL; for S3 set AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_REGION; or give a credentials file.',
  },
  StorageCredentialsFileInvalid: {
    message: 'The credentials file cannot be used.',
    remedy: 'Make it a JSON file readable only by its owner (chmod 600) with the fields named in the message.',
  },
  StorageContainerNotFound: {
    message: 'The container or bucket of the vault does not exist.',
    remedy: 'Check the name in the location; creating a vault creates its container or bucket when the credentials allow it.',
  },
  DiskInUse: {
    message: 'A program has the disk file open, so it cannot be replaced.',
    remedy: 'Stop the program the message names (often the VM itself), or restore as a new VM or to a folder instead.',
  },
  ReplaceTargetsChanged: {
    message: "The VM's disk files are not the ones the recovery point recorded.",
    remedy: 'Restore to a folder or as a new VM and attach the disks yourself, or rediscover the VM if its disks moved back.',
  },
  DiskOutsideSource: {
    message: 'A disk of this VM lies outside its source folder, so Coffer does not read it.',
    remedy: "If the VM really uses that file, add its folder to the source's allowed roots (Sources, Edit), then run Discover again.",
  },
  BlockDeviceNotAllowed: {
    message: 'A disk of this VM is a block device, and block devices are not enabled for its source.',
    remedy: 'If the VM really uses that device, enable block devices for the source (Sources, Edit), then run Discover again.',
  },
  VaultLockLost: {
    message: 'The job lost its vault lock (it could not be refreshed, or another process removed it), so it stopped before committing.',
    remedy: 'Check that the storage is reachable and that no other install breaks locks by hand, then run the job again.',
  },
  VaultChangedDuringBackup: {
    message: 'Data this backup relied on was removed from the vault while it ran, so no recovery point was kept.',
    remedy: 'Run the backup again: it will store the missing data anew.',
  },
  VaultConfigInvalid: {
    message: 'The vault config holds a value outside what Coffer accepts (scrypt cost, chunk size, key or name length, version, algorithm).',
    remedy: 'The config may have been tampered with or damaged: restore it from a copy of the vault, or recreate the vault.',
  },
  DiskPathsChanged: {
    message: "The VM's disk paths changed since they were approved, so its backups wait for the admin instead of following them.",
    remedy: 'Check the new paths; if they are right, approve them with `coffer vm approve-disks VM` or the Approve disks action in the console, then back up again.',
  },
  PassphraseWeak: {
    message: 'The passphrase is weak (shorter than 12 characters, or little variety). If it is lost, or guessed, the backups of the vault are lost with it.',
    remedy: 'Use a passphrase of at least 12 characters, such as several unrelated words; or accept the risk explicitly (the console: "I understand the risk"; the CLI: --weak-passphrase-ok).',
  },
  KeyFileNotPrivate: {
    message: 'The key file can be read by other users (or belongs to another user), so Coffer does not use it.',
    remedy: 'Make it private to the user Coffer runs as: chown that user FILE; chmod 600 FILE. Then set it again.',
  },
  KeyFileUnreadable: {
    message: 'The key file cannot be read, or holds no passphrase on its first line.',
    remedy: 'Give the absolute path of a file on the machine running Coffer, readable by the user Coffer runs as, with the passphrase on its first line.',
  },
  VaultConfigTampered: {
    message: "The vault's config does not match its authentication code (or claims an older format than this console knows it has): its parameters were changed by someone without the vault key.",
    remedy: 'Nothing was written. Restore the config file from a copy of the vault (or another install that has it), then unlock again.',
  },
  FileNotFoundInPoint: {
    message: 'The path, disk or partition does not exist in the recovery point.',
    remedy: 'List the point with `coffer files list VM --point ID [PATH]` (or Browse files in the console) and pick a path it shows; paths are case-sensitive.',
  },
  FilesystemUnsupported: {
    message: 'Coffer cannot browse this disk or filesystem (the message names it and what would read it).',
    remedy: 'Install the tool the message names (e.g. ntfs-3g for NTFS), or restore the whole disk and open it on a machine that reads that filesystem.',
  },
  QemuImgMissing: {
    message: 'qemu-img is not installed on the machine running Coffer, so disks cannot be converted to another format.',
    remedy: 'Install it (Debian/Ubuntu: apt-get install qemu-utils; Fedora/RHEL: dnf install qemu-img; macOS: brew install qemu), or restore without --format.',
  },
  ConvertFailed: {
    message: 'qemu-img could not convert a restored disk to the format asked for.',
    remedy: 'The message names the disk and qemu-img\'s reason. Check the free space of the target folder, or restore in the original format and convert it yourself.',
  },
  RestoreTestNoHeartbeat: {
    message: 'The test VM restored from the point did not answer in time: no guest agent ping, or not the expected text on its serial console.',
    remedy: 'Read the last serial console lines in the job. If the guest boots more slowly, raise the timeout (--timeout); if it prints something else when it is up, set that text (--heartbeat); otherwise restore the point and inspect the disks.',
  },
  RestoreTestFailed: {
    message: 'The test VM could not be created or started on the libvirt connection.',
    remedy: "Check the connection (virsh -c URI list) and libvirt's reason in the message; a point of another hypervisor's VM needs a libvirt with the QEMU driver on this machine.",
  },
  DeploymentFileInvalid: {
    message: "The machine's deployment file cannot be read or breaks its schema, so Coffer applied nothing from it and does not start.",
    remedy: 'Correct the field named in the message (the schema is docs/deployment.schema.json; secrets are named by reference, never written in the file), or remove the file; then start Coffer again.',
  },
  DeploymentSecretMissing: {
    message: 'A team vault of the deployment file names a passphrase that is not there (the key file or environment variable it refers to).',
    remedy: 'Create the key file (owned by the user Coffer runs as, mode 600) or set the environment variable the deployment file names, then start Coffer again.',
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
