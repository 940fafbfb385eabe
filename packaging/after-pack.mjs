// electron-builder afterPack hook: flips the fuses of the packaged Electron binary from
// electron-builder.yml's electronFuses (the one home of the list; flipping twice is harmless, so
// the order against electron-builder's own fuse step does not matter), then reads them back with
// @electron/fuses and fails the build unless each one is what the list says.
import { flipFuses, FuseState, FuseV1Options, FuseVersion, getCurrentFuseWire } from '@electron/fuses';
import path from 'node:path';

/** electronFuses key (camelCase) -> FuseV1Options member. */
export function fuseOption(key) {
  const name = key[0].toUpperCase() + key.slice(1);
  const option = FuseV1Options[name];
  if (option === undefined) throw new Error(`electronFuses.${key} is not a fuse @electron/fuses knows (FuseV1Options.${name})`);
  return option;
}

export function fuseConfig(electronFuses) {
  const config = { version: FuseVersion.V1 };
  for (const [key, value] of Object.entries(electronFuses)) if (key !== 'resetAdHocDarwinSignature') config[fuseOption(key)] = value;
  return config;
}

function binaryOf(context) {
  const name = context.packager.appInfo.productFilename;
  if (context.electronPlatformName === 'darwin' || context.electronPlatformName === 'mas') return path.join(context.appOutDir, `${name}.app`);
  if (context.electronPlatformName === 'win32') return path.join(context.appOutDir, `${name}.exe`);
  return path.join(context.appOutDir, context.packager.executableName);
}

export default async function afterPack(context) {
  const fuses = context.packager.config.electronFuses;
  if (!fuses) throw new Error('electron-builder.yml has no electronFuses: refusing to ship an app with default fuses');
  const binary = binaryOf(context);
  await flipFuses(binary, { ...fuseConfig(fuses), resetAdHocDarwinSignature: context.electronPlatformName === 'darwin' && context.arch === 3 });
  const wire = await getCurrentFuseWire(binary);
  for (const [key, want] of Object.entries(fuses)) {
    if (key === 'resetAdHocDarwinSignature') continue;
    const got = wire[fuseOption(key)];
    const on = got === FuseState.ENABLE;
    if (on !== want) throw new Error(`fuse ${key} is ${on ? 'on' : 'off'} in ${binary}, electron-builder.yml says ${want ? 'on' : 'off'}`);
  }
}
