// Field validation for the vault dialogs: the contract's zod schemas decide what is valid, and
// their issues (local or returned by the engine as InvalidArgument) map to localized messages.
import { AbsolutePath, Passphrase, RegionLabel, VaultName, type ApiError } from '../../../preload/contract.js';
import type { MessageKey } from '../i18n/index.js';

export type CreateField = 'name' | 'region' | 'path' | 'passphrase' | 'confirm';
export type CreateValues = Record<CreateField, string>;

/** A message key to translate, or the engine's own text when no key fits. */
export type FieldError = { key: MessageKey } | { text: string };
export type FieldErrors = Partial<Record<CreateField, FieldError>>;

type Issue = { code: string; message: string };

function firstIssue(schema: { safeParse(v: unknown): { success: boolean; error?: { issues: Issue[] } } }, value: string): Issue | undefined {
  const r = schema.safeParse(value);
  return r.success ? undefined : r.error?.issues[0];
}

/** Validates one field on its own; undefined when valid. */
export function validateField(field: CreateField, values: CreateValues): FieldError | undefined {
  const value = values[field];
  switch (field) {
    case 'name':
      return firstIssue(VaultName, value) ? { key: 'validation.name.format' } : undefined;
    case 'region': {
      const issue = firstIssue(RegionLabel, value);
      if (!issue) return undefined;
      if (value.trim() === '') return { key: 'validation.region.required' };
      if (issue.code === 'too_big') return { key: 'validation.region.tooLong' };
      return { key: 'validation.region.format' };
    }
    case 'path': {
      const issue = firstIssue(AbsolutePath, value);
      if (!issue) return undefined;
      if (value === '') return { key: 'validation.path.required' };
      if (issue.code === 'too_big') return { key: 'validation.path.tooLong' };
      if (value.includes('\0')) return { key: 'validation.path.invalid' };
      return { key: 'validation.path.absolute' };
    }
    case 'passphrase': {
      const issue = firstIssue(Passphrase, value);
      if (!issue) return undefined;
      return { key: issue.code === 'too_big' ? 'validation.passphrase.tooLong' : 'validation.passphrase.tooShort' };
    }
    case 'confirm':
      return value !== values.passphrase ? { key: 'validation.passphrase.mismatch' } : undefined;
  }
}

export function validateAll(values: CreateValues): FieldErrors {
  const errors: FieldErrors = {};
  for (const field of Object.keys(values) as CreateField[]) {
    const e = validateField(field, values);
    if (e) errors[field] = e;
  }
  return errors;
}

function isField(x: unknown): x is CreateField {
  return x === 'name' || x === 'region' || x === 'path' || x === 'passphrase' || x === 'confirm';
}

/**
 * Places an engine error beside the field it concerns. Returns the field errors, or undefined
 * when the error belongs to no field (the dialog then shows it as a message bar).
 */
export function fieldErrorsFromApi(error: ApiError, values: CreateValues): FieldErrors | undefined {
  switch (error.code) {
    case 'VaultNameTaken':
      return { name: { key: 'validation.name.taken' } };
    case 'VaultFolderNotEmpty':
      return { path: { key: 'validation.path.notEmpty' } };
    case 'VaultPathInvalid':
      return { path: { key: 'validation.path.invalid' } };
    case 'InvalidArgument': {
      const issues = (error.details as { issues?: { path?: unknown[]; message?: unknown }[] } | undefined)?.issues;
      if (!Array.isArray(issues)) return undefined;
      const out: FieldErrors = {};
      for (const issue of issues) {
        const field = issue.path?.[0];
        if (!isField(field) || out[field]) continue;
        out[field] = validateField(field, values) ?? { text: typeof issue.message === 'string' ? issue.message : error.message };
      }
      return Object.keys(out).length > 0 ? out : undefined;
    }
    default:
      return undefined;
  }
}
