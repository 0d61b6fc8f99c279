/** Writes schema/shipshape.schema.json from the zod config schema (npm run schema). */
import { mkdirSync, writeFileSync } from 'node:fs';
import { jsonSchema } from '../src/modules.js';

mkdirSync('schema', { recursive: true });
writeFileSync('schema/shipshape.schema.json', `${JSON.stringify(jsonSchema(), null, 2)}\n`);
console.log('wrote schema/shipshape.schema.json');
