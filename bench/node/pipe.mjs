// createReadStream().pipe(createWriteStream()) with Node's defaults.
import fs from 'node:fs';
const [src, dst] = process.argv.slice(2);
fs.createReadStream(src).pipe(fs.createWriteStream(dst));
