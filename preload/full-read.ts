import { z } from 'zod';

/**
 * Why a backup read a disk in full instead of reusing its parent point's chunk list or reading
 * only what changed (issue 13): no earlier point (firstBackup), none with this disk (noParent),
 * the disk's size or file changed, the admin asked (forced: `backup now --full-read`, the console's
 * "Full read"), the policy's periodic full read is due (periodic), the VM ran while it was read and
 * no changed-block tracking told what changed (vmRunning). Changed-block tracking appends its own.
 * Its own module so job-messages.ts can type its params with it; the contract re-exports it.
 */
export const fullReadReasons = [
  'firstBackup',
  'noParent',
  'sizeChanged',
  'fileChanged',
  'forced',
  'periodic',
  'vmRunning',
  // Changed-block tracking of running libvirt domains: the parent's checkpoint is gone from the
  // domain, the disk format cannot keep a bitmap (raw, qcow2 v2), the domain restarted without
  // saving its bitmaps, the point the domain's checkpoint belonged to was deleted.
  'checkpointMissing',
  'bitmapUnsupported',
  'domainRestarted',
  'parentDeleted',
  // The domain was defined anew (a transient domain recreated under its name): its checkpoints
  // are gone, only their bitmaps were left in the disk image.
  'domainRecreated',
] as const;
export const FullReadReason = z.enum(fullReadReasons);
export type FullReadReason = z.infer<typeof FullReadReason>;

/** How a backup got one disk: its parent's list as it was, the parent's plus what changed, or read in full (and why). */
export const DiskRead = z.object({
  disk: z.string(),
  read: z.enum(['unchanged', 'changed', 'full']),
  /** The parent point the chunk list was built from (unchanged, changed). */
  parent: z.string().optional(),
  reason: FullReadReason.optional(),
});
export type DiskRead = z.infer<typeof DiskRead>;
