/** See guest-domain.mjs. */
export declare const QEMU_DOMAIN_TYPE: 'kvm' | 'qemu';
export declare function guestDomainXml(opts: { name: string; disk: string; format?: 'qcow2' | 'raw'; type?: 'kvm' | 'qemu' }): string;
