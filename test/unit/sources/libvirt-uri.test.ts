import { describe, expect, it } from 'vitest';
import { checkLibvirtUri } from '../../../main/core/sources/libvirt-uri.js';

describe('which libvirt URIs reach virsh', () => {
  it.each([
    'qemu:///system',
    'qemu:///session',
    'qemu+ssh://backup@kvm1.example.org/system',
    'qemu+ssh://kvm1.example.org:2222/system?no_tty=1',
    'qemu+libssh2://kvm1/system?sshauth=agent',
    'qemu+tls://kvm1.example.org/system?pkipath=/etc/coffer/pki',
    'qemu+ssh://root@[2001:db8::1]/system',
    'qemu+unix:///system',
    'xen:///system',
    'xen+ssh://dom0.example.org/system',
    'lxc:///system',
    'vbox:///session',
    'esx://vcenter.example.org/?transport=https',
    'test:///default',
    'test:///var/tmp/coffer%20lab/node.xml',
  ])('accepts %s', (uri) => {
    expect(() => checkLibvirtUri(uri)).not.toThrow();
  });

  it.each([
    ['qemu+ext:///system?command=/tmp/x', /ext transport runs a program/],
    ['qemu+ssh://h/system?command=/tmp/x', /command= names a program/],
    ['qemu+ssh://h/system?Comm%61nd=/tmp/x', /command= names a program/],
    ['qemu+ssh://h/system?no_tty=1;command=/tmp/x', /command= names a program/],
    ['qemu+ssh://h/system?netcat=/tmp/x', /netcat= names a command/],
    ['qemu+unix:///system?socket=/tmp/evil.sock', /socket= points virsh/],
    ['qemu+libssh2://h/system?keyfile=/root/.ssh/id_rsa', /private key/],
    ['qemu+libssh://h/system?known_hosts=/etc/passwd', /read and write a file/],
    ['qemu+tls://h/system?no_verify=1', /certificate/],
    ['qemu+ssh://h/system?proxy=netcat', /helper/],
    ['qemu+tcp://h/system', /unencrypted/],
    ['qemu:///embed?root=/etc', /embed is not a libvirt driver instance/],
    ['qemu+ssh://-oProxyCommand=touch%20x/system', /not a host name/],
    ['qemu+ssh://-oProxyCommand@h/system', /user name/],
    ['qemu+unix://h/system', /takes no host/],
    ['remote:///', /not a libvirt driver Coffer knows/],
    ['test+ssh://h/default', /test driver runs in virsh itself/],
    ['qemu:///system#x', /not of the form/],
    ['qemu:///system?x=%E0%A4%A', /malformed percent-encoding/],
    ['qemu:///system\n', /control characters/],
    ['qemu:///system?name=qemu%2Bext:///system', /"name" is not one Coffer passes on/],
  ])('refuses %s', (uri, why) => {
    expect(() => checkLibvirtUri(uri)).toThrow(expect.objectContaining({ code: 'LibvirtUriRefused', message: expect.stringMatching(why) as unknown }) as Error);
  });
});
