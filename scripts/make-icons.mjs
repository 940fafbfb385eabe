// Draws Coffer's icons (a vault door; tray variants carry a status dot) into
// main/electron/assets/. The PNGs are committed; rerun this only to change the artwork.
// Plain Node and zlib, so no image tool is needed: shapes are signed distances, 4x4 supersampled.
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';

const out = fileURLToPath(new URL('../main/electron/assets/', import.meta.url));

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}
function png(size, rgba) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bits per channel
  ihdr[9] = 6; // RGBA
  const raw = Buffer.alloc(size * (size * 4 + 1));
  for (let y = 0; y < size; y++) rgba.copy(raw, y * (size * 4 + 1) + 1, y * size * 4, (y + 1) * size * 4);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const hex = (h) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16));
const roundedRect = (x0, y0, x1, y1, r) => (x, y) => {
  const dx = Math.max(x0 + r - x, 0, x - (x1 - r));
  const dy = Math.max(y0 + r - y, 0, y - (y1 - r));
  return Math.hypot(dx, dy) - r;
};
const circle = (cx, cy, r) => (x, y) => Math.hypot(x - cx, y - cy) - r;
const ring = (cx, cy, r0, r1) => (x, y) => {
  const d = Math.hypot(x - cx, y - cy);
  return Math.max(r0 - d, d - r1);
};

const BRAND = hex('#0F6CBD');
const WHITE = [255, 255, 255];
const STATUS = { running: hex('#16A34A'), failed: hex('#D13438') };

function layers(status) {
  const l = [
    [roundedRect(0.06, 0.06, 0.94, 0.94, 0.2), BRAND],
    [ring(0.5, 0.5, 0.15, 0.27), WHITE],
    [circle(0.5, 0.5, 0.06), WHITE], // the dial's hub
    [roundedRect(0.1, 0.26, 0.17, 0.36, 0.02), WHITE], // hinges
    [roundedRect(0.1, 0.64, 0.17, 0.74, 0.02), WHITE],
  ];
  if (status !== 'idle') l.push([circle(0.76, 0.76, 0.25), WHITE], [circle(0.76, 0.76, 0.19), STATUS[status]]);
  return l;
}

function draw(size, status) {
  const rgba = Buffer.alloc(size * size * 4);
  const ss = 4;
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      let [r, g, b, a] = [0, 0, 0, 0];
      for (const [shape, color] of layers(status)) {
        let cover = 0;
        for (let sy = 0; sy < ss; sy++) {
          for (let sx = 0; sx < ss; sx++) {
            if (shape((px + (sx + 0.5) / ss) / size, (py + (sy + 0.5) / ss) / size) <= 0) cover++;
          }
        }
        const ca = cover / (ss * ss);
        if (ca === 0) continue;
        // "over" compositing with straight alpha
        const na = ca + a * (1 - ca);
        [r, g, b] = [0, 1, 2].map((i) => (color[i] * ca + [r, g, b][i] * a * (1 - ca)) / na);
        a = na;
      }
      rgba.set([Math.round(r), Math.round(g), Math.round(b), Math.round(a * 255)], (py * size + px) * 4);
    }
  }
  return png(size, rgba);
}

mkdirSync(out, { recursive: true });
writeFileSync(new URL('icon.png', `file://${out}`), draw(512, 'idle'));
for (const status of ['idle', 'running', 'failed']) {
  writeFileSync(new URL(`tray-${status}.png`, `file://${out}`), draw(16, status));
  writeFileSync(new URL(`tray-${status}@2x.png`, `file://${out}`), draw(32, status));
}
console.log(`icons written to ${out}`);
