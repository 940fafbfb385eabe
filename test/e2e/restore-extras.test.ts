// The console's new restore abilities: the disk format in the Restore wizard (the restored disk
// lands on disk in qcow2), and "Test restore" on the recovery points page with the job's result.
// The test restore runs on libvirt's test driver (test:///default), where no guest runs: the VM
// never answers, so the dialog shows RestoreTestNoHeartbeat in the console's language. axe-core
// on both dialogs in English/light and Dutch/dark.
import { spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, ROOT, axeProblems, launchChromium, makeVm, startConsole, stopConsole, visible } from './console-host.js';

const T = 180_000;
const has = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0;
const why = !has('qemu-img') ? 'qemu-img is not installed (apt-get install qemu-utils)' : !has('virsh') ? 'virsh is not installed (apt-get install libvirt-clients)' : undefined;
if (why) console.warn(`restore extras e2e skipped: ${why}`);

let server: ChildProcess | undefined;
let browser: Browser;
let url = '';
let tmp = '';

function coffer(...args: string[]): string {
  const r = spawnSync(process.execPath, [CLI, '--data-dir', path.join(tmp, 'data'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, COFFER_PASSPHRASE: 'correct horse battery staple', COFFER_TEST_KDF_N: '1024' },
  });
  if (r.status !== 0) throw new Error(`coffer ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

async function pointsPage(locale: 'en-US' | 'nl-NL', colorScheme: 'light' | 'dark'): Promise<Page> {
  const context = await browser.newContext({ locale, viewport: { width: 1440, height: 900 }, colorScheme, bypassCSP: true });
  const page = await context.newPage();
  page.on('pageerror', (err) => console.error('page error:', err));
  await page.goto(url);
  await page.evaluate(() => (window.location.hash = '#/recovery-points?vault=vault-lab'));
  await visible(page.getByRole('heading', { level: 1, name: locale === 'en-US' ? 'Recovery points' : 'Herstelpunten' }));
  return page;
}

describe.skipIf(!!why)(`restore format and test restore in the console${why ? ` (skipped: ${why})` : ''}`, () => {
  beforeAll(async () => {
    if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
    tmp = fs.mkdtempSync(path.join(tmpdir(), 'coffer-rx-'));
    makeVm(path.join(tmp, 'hypervisor', 'shop'), 'web01', '0b3c9a52-1111-4222-8333-4444555566aa', 4);
    coffer('vault', 'create', 'vault-lab', '--region', 'lab', '--path', path.join(tmp, 'vault'));
    coffer('source', 'add', 'folder', path.join(tmp, 'hypervisor'), '--region', 'lab', '--name', 'lab-host');
    coffer('vm', 'discover', '--vault', 'vault-lab');
    coffer('vm', 'register', '--vault', 'vault-lab', 'web01');
    coffer('protect', '--vault', 'vault-lab', '--policy', 'DefaultPolicy', 'web01');
    coffer('backup', 'now', 'web01', '--wait');
    const host = await startConsole(path.join(tmp, 'data'));
    server = host.child;
    url = host.url;
    // The host has its own engine: unlock the vault there (the CLI hands the command to it).
    coffer('vault', 'unlock', 'vault-lab');
    browser = await launchChromium();
  }, T);

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await stopConsole(server);
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('restores the disks in qcow2 chosen in the wizard (English, light), axe clean', { timeout: T }, async () => {
    const page = await pointsPage('en-US', 'light');
    await page.getByRole('button', { name: /^Restore the point of/ }).first().click();
    const d = page.getByRole('dialog');
    await visible(d.getByLabel('Disk format'));
    expect(await axeProblems(page, 'restore wizard (en, light)')).toEqual([]);
    await d.getByLabel('Disk format').selectOption('qcow2');
    const target = path.join(tmp, 'as-qcow2');
    await d.getByLabel('Target folder').fill(target);
    await d.getByRole('button', { name: 'Start restore' }).click();
    await visible(d.getByText(/with 2 disks in qcow2\./));
    const files = fs.readdirSync(target).sort();
    expect(files).toEqual(['web01-data.qcow2', 'web01.qcow2', 'web01.xml']);
    const fmt = (f: string) => (JSON.parse(spawnSync('qemu-img', ['info', '--output=json', path.join(target, f)], { encoding: 'utf8' }).stdout) as { format: string }).format;
    expect(fmt('web01.qcow2')).toBe('qcow2');
    // The restored definition names the converted disk and its type.
    const definition = fs.readFileSync(path.join(target, 'web01.xml'), 'utf8');
    expect(definition).toContain(`<driver name='qemu' type='qcow2'/><source file='${path.join(target, 'web01.qcow2')}'/>`);
    expect(definition).not.toContain("source file='web01.img'");
    await page.context().close();
  });

  it('runs a Test restore and shows that the VM did not answer (English, light; Dutch, dark), axe clean', { timeout: T }, async () => {
    for (const [locale, scheme] of [['en-US', 'light'], ['nl-NL', 'dark']] as const) {
      const en = locale === 'en-US';
      const page = await pointsPage(locale, scheme);
      await page.getByRole('button', { name: en ? /^Test restore of the point of/ : /^Testherstel van het punt van/ }).first().click();
      const d = page.getByRole('dialog');
      await visible(d.getByLabel(en ? 'libvirt connection' : 'libvirt-verbinding'));
      expect(await axeProblems(page, `test restore dialog (${locale}, ${scheme})`)).toEqual([]);
      const uri = d.getByLabel(en ? 'libvirt connection' : 'libvirt-verbinding');
      await uri.fill('not a uri');
      await uri.blur();
      await visible(d.getByText(en ? 'Give a libvirt connection URI such as qemu:///system.' : 'Geef een libvirt-verbindings-URI zoals qemu:///system.'));
      await uri.fill('test:///default');
      await d.getByLabel(en ? 'Seconds to wait after the VM starts' : 'Seconden wachten nadat de VM is gestart').fill('5');
      await d.getByRole('button', { name: en ? 'Start test restore' : 'Testherstel starten' }).click();
      await visible(
        d.getByText(
          en
            ? // English shows the engine's own sentence: which VM, which heartbeat, and why it stopped waiting.
              /^The test VM coffer-test-\S+ of shop\/web01 point \S+: "login:" did not appear on its serial console before the VM stopped\./
            : 'De test-VM die uit het punt is hersteld, antwoordde niet op tijd: geen ping van de guest agent, of niet de verwachte tekst op de seriële console.',
        ),
        60_000,
      );
      expect(await axeProblems(page, `test restore result (${locale}, ${scheme})`)).toEqual([]);
      await page.context().close();
    }
    // The job log has both test restores, failed, with the operation's name.
    const jobs = JSON.parse(coffer('job', 'list', '--operation', 'TestRestore', '--json')) as { status: string; error: { code: string } | null }[];
    expect(jobs.map((j) => [j.status, j.error?.code])).toEqual([
      ['Failed', 'RestoreTestNoHeartbeat'],
      ['Failed', 'RestoreTestNoHeartbeat'],
    ]);
    // Nothing of the tests is left in the data folder.
    expect(fs.readdirSync(path.join(tmp, 'data', 'restore-tests'))).toEqual([]);
  });
});
