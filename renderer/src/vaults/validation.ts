// Field validation for the vault dialogs (Create, Connect): the contract's zod schemas decide what
// is valid, and their issues (local or returned by the engine as InvalidArgument) map to localized
// messages. Engine errors about a field (the storage location, the passphrase, the name) are shown
// beside that field with their message and remedy.
import { AbsolutePath, Passphrase, RegionLabel, VaultName, VaultStorageFields, isWeakPassphrase, type ApiError } from '../../../preload/contract.js';
import type { ErrorLike, MessageKey } from '../i18n/index.js';

/** Where the vault lives: a folder, an Azure Blob container or an S3 bucket. */
export type StorageKind = 'folder' | 'azure' | 's3';
export const storageKinds: readonly StorageKind[] = ['folder', 'azure', 's3'];

export type VaultField = 'name' | 'region' | 'path' | 'azure' | 's3' | 'endpoint' | 's3Region' | 'credentialsFile' | 'passphrase' | 'confirm' | 'remember';
/** The text fields; `acceptWeak` is the "I understand the risk" of a weak passphrase (Create only). */
export type VaultValues = Record<Exclude<VaultField, 'remember'>, string> & { kind: StorageKind; acceptWeak: boolean };

/** Create checks the passphrase's strength (the contract's rule) and its confirmation; Connect only needs one typed. */
export type DialogMode = 'create' | 'connect';

export const emptyValues: VaultValues = {
  kind: 'folder',
  name: '',
  region: '',
  path: '',
  azure: '',
  s3: '',
  endpoint: '',
  s3Region: '',
  credentialsFile: '',
  passphrase: '',
  confirm: '',
  acceptWeak: false,
};

/** A message key to translate, the engine's own text when no key fits, or an engine error (message and remedy). */
export type FieldError = { key: MessageKey } | { text: string } | { error: ErrorLike };
export type FieldErrors = Partial<Record<VaultField, FieldError>>;

/** The field that holds the storage location for this kind. */
export function locationField(kind: StorageKind): 'path' | 'azure' | 's3' {
  return kind === 'folder' ? 'path' : kind;
}

/** The fields the dialog shows (and checks) for this mode and storage kind. */
export function activeFields(mode: DialogMode, kind: StorageKind): VaultField[] {
  const storage: VaultField[] = kind === 'folder' ? ['path'] : kind === 'azure' ? ['azure', 'credentialsFile'] : ['s3', 'endpoint', 's3Region', 'credentialsFile'];
  return mode === 'create' ? ['name', 'region', ...storage, 'passphrase', 'confirm'] : ['name', ...storage, 'passphrase'];
}

/** The storage part of createVault / connectVault: exactly one location, the optional fields only when filled. */
export function storageArgs(v: VaultValues): { path?: string; azure?: string; s3?: string; endpoint?: string; s3Region?: string; credentialsFile?: string } {
  const opt = (key: 'endpoint' | 's3Region' | 'credentialsFile') => (v[key].trim() ? { [key]: v[key].trim() } : {});
  if (v.kind === 'folder') return { path: v.path };
  if (v.kind === 'azure') return { azure: v.azure.trim(), ...opt('credentialsFile') };
  return { s3: v.s3.trim(), ...opt('endpoint'), ...opt('s3Region'), ...opt('credentialsFile') };
}

type Issue = { code: string; message: string };

function firstIssue(schema: { safeParse(v: unknown): { success: boolean; error?: { issues: Issue[] } } }, value: string): Issue | undefined {
  const r = schema.safeParse(value);
  return r.success ? undefined : r.error?.issues[0];
}

function pathError(value: string, required: MessageKey): FieldError | undefined {
  const issue = firstIssue(AbsolutePath, value);
  if (!issue) return undefined;
  if (value === '') return { key: required };
  if (issue.code === 'too_big') return { key: 'validation.path.tooLong' };
  if (value.includes('\0')) return { key: 'validation.path.invalid' };
  return { key: 'validation.path.absolute' };
}

/** Validates one field on its own; undefined when valid. */
export function validateField(field: VaultField, values: VaultValues, mode: DialogMode = 'create'): FieldError | undefined {
  switch (field) {
    case 'name':
      return firstIssue(VaultName, values.name) ? { key: 'validation.name.format' } : undefined;
    case 'region': {
      const issue = firstIssue(RegionLabel, values.region);
      if (!issue) return undefined;
      if (values.region.trim() === '') return { key: 'validation.region.required' };
      if (issue.code === 'too_big') return { key: 'validation.region.tooLong' };
      return { key: 'validation.region.format' };
    }
    case 'path':
      return pathError(values.path, 'validation.path.required');
    case 'azure':
    case 's3': {
      // The engine parses the URL (one rule, in the core); here only what the contract bounds.
      const value = values[field].trim();
      if (value === '') return { key: field === 'azure' ? 'validation.azure.required' : 'validation.s3.required' };
      return firstIssue(VaultStorageFields[field], value) ? { key: 'validation.invalid' } : undefined;
    }
    case 'endpoint':
    case 's3Region': {
      const value = values[field].trim();
      return value !== '' && firstIssue(VaultStorageFields[field], value) ? { key: 'validation.invalid' } : undefined;
    }
    case 'credentialsFile':
      return values.credentialsFile.trim() === '' ? undefined : pathError(values.credentialsFile.trim(), 'validation.path.required');
    case 'passphrase': {
      if (mode === 'connect') return values.passphrase === '' ? { key: 'validation.passphrase.required' } : undefined;
      const issue = firstIssue(Passphrase, values.passphrase);
      if (issue) return { key: issue.code === 'too_big' ? 'validation.passphrase.tooLong' : 'validation.passphrase.tooShort' };
      // The contract's passphrase rule: a weak one only with "I understand the risk".
      return isWeakPassphrase(values.passphrase) && !values.acceptWeak ? { key: 'validation.passphrase.weak' } : undefined;
    }
    case 'confirm':
      return values.confirm !== values.passphrase ? { key: 'validation.passphrase.mismatch' } : undefined;
    case 'remember':
      return undefined;
  }
}

export function validateAll(values: VaultValues, mode: DialogMode): FieldErrors {
  const errors: FieldErrors = {};
  for (const field of activeFields(mode, values.kind)) {
    const e = validateField(field, values, mode);
    if (e) errors[field] = e;
  }
  return errors;
}

const allFields: readonly VaultField[] = ['name', 'region', 'path', 'azure', 's3', 'endpoint', 's3Region', 'credentialsFile', 'passphrase', 'confirm', 'remember'];
function isField(x: unknown): x is VaultField {
  return typeof x === 'string' && (allFields as readonly string[]).includes(x);
}

/**
 * Places an engine error beside the field it concerns. Returns the field errors, or undefined
 * when the error belongs to no shown field (the dialog then shows it as a message bar).
 */
export function fieldErrorsFromApi(error: ApiError, values: VaultValues, mode: DialogMode): FieldErrors | undefined {
  const shown = activeFields(mode, values.kind);
  const at = (field: VaultField, e: FieldError): FieldErrors | undefined => (shown.includes(field) || field === 'remember' ? { [field]: e } : undefined);
  const location = locationField(values.kind);
  const credentials: VaultField = values.kind !== 'folder' && values.credentialsFile.trim() !== '' ? 'credentialsFile' : location;
  const own = { error };
  switch (error.code) {
    case 'VaultNameTaken':
      return at('name', { key: 'validation.name.taken' });
    case 'VaultFolderNotEmpty':
      return at(location, mode === 'create' ? { key: 'validation.path.notEmpty' } : own);
    case 'VaultPathInvalid':
      return at(location, { key: 'validation.path.invalid' });
    case 'WrongPassphrase':
    case 'PassphraseWeak':
      return at('passphrase', own);
    case 'VaultAlreadyConnected':
    case 'VaultNotFound':
    case 'VaultCorrupt':
    case 'VaultFormatTooNew':
    case 'VaultConfigInvalid':
    case 'StorageLocationInvalid':
    case 'StorageContainerNotFound':
      return at(location, own);
    case 'StorageUnreachable':
      return at(values.kind === 's3' && values.endpoint.trim() !== '' ? 'endpoint' : location, own);
    case 'StorageAuthFailed':
    case 'StorageCredentialsMissing':
    case 'StorageCredentialsFileInvalid':
      return at(credentials, own);
    case 'InvalidArgument': {
      const issues = (error.details as { issues?: { path?: unknown[]; message?: unknown }[] } | undefined)?.issues;
      const field = error.details?.field;
      if (!Array.isArray(issues)) return isField(field) ? at(field, { text: error.message }) : undefined;
      const out: FieldErrors = {};
      for (const issue of issues) {
        const f = issue.path?.[0];
        // exactlyOneStorage names `path`: it concerns whichever location field is shown.
        const target = f === 'path' ? location : f;
        if (!isField(target) || out[target] || !shown.includes(target)) continue;
        out[target] = validateField(target, values, mode) ?? { text: typeof issue.message === 'string' ? issue.message : error.message };
      }
      return Object.keys(out).length > 0 ? out : undefined;
    }
    default:
      return undefined;
  }
}

/** The createVault flag for a weak passphrase the admin accepted; nothing for a strong one. */
export function weakPassphraseArgs(v: VaultValues): { weakPassphraseOk?: true } {
  return isWeakPassphrase(v.passphrase) && v.acceptWeak ? { weakPassphraseOk: true } : {};
}
