// stream.pipeline with Node's defaults.
import fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
const [src, dst] = process.argv.slice(2);
await pipeline(fs.createReadStream(src), fs.createWriteStream(dst));
