// The seed program: 1 MiB reads, a default write stream, pause/resume.
import fs from 'node:fs';
const [src, dst] = process.argv.slice(2);
const reader = fs.createReadStream(src, { highWaterMark: 1024 * 1024 });
const writer = fs.createWriteStream(dst);
reader.on('data', (chunk) => { if (!writer.write(chunk)) reader.pause(); });
writer.on('drain', () => reader.resume());
reader.on('end', () => writer.end());
