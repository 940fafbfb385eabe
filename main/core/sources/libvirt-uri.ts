import { CofferError } from '../errors.js';

/*
 * Which libvirt connection URIs Coffer hands to virsh. A URI is a small program for libvirt: the
 * ext transport and the command=, netcat= and socket= parameters make virsh (often running as
 * root) start a program or talk to any socket. Coffer accepts what an admin needs to reach a
 * hypervisor (this machine, ssh, tls, the test driver) and refuses the rest before virsh starts.
 * See https://libvirt.org/uri.html and https://libvirt.org/remote.html.
 */

/** Drivers whose daemon virsh reaches locally or through a remote transport. */
const DAEMON_DRIVERS = new Set(['qemu', 'xen', 'libxl', 'lxc', 'bhyve', 'ch', 'vbox', 'openvz', 'vz']);
/** Drivers that run inside the client and take no +transport (VMware, ESX/vCenter, Hyper-V over WinRM). */
const CLIENT_DRIVERS = new Set(['vmwareplayer', 'vmwarews', 'vmwarefusion', 'esx', 'gsx', 'vpx', 'hyperv']);

/** Transports that reach the daemon without a program or socket of the URI's choosing. */
const TRANSPORTS = new Set(['unix', 'ssh', 'libssh', 'libssh2', 'tls']);

/**
 * Parameters that only tune a safe connection. Everything else is refused, in particular command
 * (runs a program), netcat (runs a command on the remote host), socket (any socket), keyfile and
 * known_hosts (files libssh reads and writes), no_verify (skips the server's certificate) and name.
 */
const PARAMETERS = new Set(['no_tty', 'mode', 'sshauth', 'pkipath', 'transport']);

const HOST_RE = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*|\[[0-9A-Fa-f:.]+\])$/;
const USER_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$/;

const REMEDY =
  'Use a plain connection URI: qemu:///system or qemu:///session on this machine, qemu+ssh://user@host/system or qemu+tls://host/system for another host (ssh keys come from ssh-agent or ~/.ssh/config), or test:///default.';

function refuse(uri: string, why: string): never {
  throw new CofferError('LibvirtUriRefused', `The libvirt URI ${JSON.stringify(uri)} is refused: ${why}.`, { field: 'target' }, REMEDY);
}

function decode(uri: string, s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return refuse(uri, `it has a malformed percent-encoding (${s})`);
  }
}

/** Throws LibvirtUriRefused unless `uri` is a connection URI Coffer may pass to virsh. */
export function checkLibvirtUri(uri: string): void {
  // Control characters and spaces: virsh would read them, a person would not see them.
  if (!uri || uri.length > 1024 || /[\s\p{Cc}]/u.test(uri)) refuse(uri, 'it is empty, too long or has spaces or control characters');
  const m = /^([a-z][a-z0-9]*)(?:\+([a-z0-9]+))?:\/\/([^/?#]*)(\/[^?#]*)?(?:\?([^#]*))?$/i.exec(uri);
  if (!m) refuse(uri, 'it is not of the form driver[+transport]://[user@][host][:port]/path[?parameters] (no #fragment)');
  const driver = m[1]!.toLowerCase();
  const transport = m[2]?.toLowerCase();
  const authority = m[3]!;
  const pathPart = decode(uri, m[4] ?? '');
  const query = m[5];

  if (driver === 'test') {
    if (transport || authority) refuse(uri, 'the test driver runs in virsh itself; it takes no transport or host (test:///default or test:///path/to/node.xml)');
    if (pathPart !== '/default' && !/^\/[^\0]+\.xml$/i.test(pathPart)) refuse(uri, 'a test driver URI is test:///default or test:///path/to/node.xml');
  } else if (DAEMON_DRIVERS.has(driver)) {
    if (transport && !TRANSPORTS.has(transport)) {
      refuse(uri, transport === 'ext' ? 'the ext transport runs a program named in the URI' : transport === 'tcp' ? 'the tcp transport is unencrypted and unauthenticated' : `${transport} is not a libvirt transport Coffer uses`);
    }
    if (transport === 'unix' && authority) refuse(uri, 'the unix transport reaches this machine only; it takes no host');
    // qemu:///embed?root=DIR starts a private QEMU driver that writes wherever DIR says.
    if (!['', '/', '/system', '/session'].includes(pathPart)) refuse(uri, `${pathPart} is not a libvirt driver instance (use /system or /session)`);
  } else if (CLIENT_DRIVERS.has(driver)) {
    if (transport) refuse(uri, `the ${driver} driver takes no +${transport} transport`);
  } else {
    refuse(uri, `${driver} is not a libvirt driver Coffer knows`);
  }

  if (authority) {
    const at = authority.lastIndexOf('@');
    const user = at >= 0 ? decode(uri, authority.slice(0, at)) : undefined;
    const hostPort = at >= 0 ? authority.slice(at + 1) : authority;
    const hp = /^(\[[^\]]*\]|[^:]*)(?::(\d{1,5}))?$/.exec(hostPort);
    // A host or user starting with "-" would reach ssh as an option (-oProxyCommand=...).
    if (user !== undefined && !USER_RE.test(user)) refuse(uri, `the user name ${JSON.stringify(user)} has characters a login name does not`);
    if (!hp || !HOST_RE.test(hp[1]!)) refuse(uri, `the host ${JSON.stringify(hostPort)} is not a host name or IP address`);
    if (hp[2] !== undefined && (Number(hp[2]) < 1 || Number(hp[2]) > 65535)) refuse(uri, `port ${hp[2]} is out of range`);
  }

  // libvirt splits parameters on & and ;, unescapes their names and compares them ignoring case.
  for (const part of (query ?? '').split(/[&;]/)) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const name = decode(uri, eq >= 0 ? part.slice(0, eq) : part).toLowerCase();
    const value = eq >= 0 ? decode(uri, part.slice(eq + 1)) : '';
    if (!PARAMETERS.has(name)) {
      const why: Record<string, string> = {
        command: 'command= names a program for virsh to run',
        netcat: 'netcat= names a command to run on the remote host',
        socket: 'socket= points virsh at a socket of the URI\'s choosing',
        proxy: 'proxy= changes which helper reaches the remote daemon (netcat or virt-ssh-helper); Coffer uses libvirt\'s default',
        keyfile: 'keyfile= makes libvirt read a private key the URI chooses',
        known_hosts: 'known_hosts= makes libvirt read and write a file the URI chooses',
        no_verify: 'no_verify= turns off the check of the server\'s certificate',
      };
      refuse(uri, why[name] ?? `the parameter ${JSON.stringify(name)} is not one Coffer passes on (allowed: ${[...PARAMETERS].join(', ')})`);
    }
    if (name === 'transport' && !CLIENT_DRIVERS.has(driver)) refuse(uri, 'transport= is a parameter of the ESX and Hyper-V drivers only');
    if (name === 'transport' && value !== 'https') refuse(uri, 'the ESX and Hyper-V drivers are reached over https only');
    if (name === 'pkipath' && !value.startsWith('/')) refuse(uri, 'pkipath= must be an absolute folder');
  }
}
